# railtop — build, test, demo.  `make` builds bin/; `make check` runs every test;
# `make demo` runs the console against a live local gateway.
CC      ?= cc
CFLAGS  ?= -O2 -g
XFLAGS  := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -D_GNU_SOURCE -Isrc -Iui
# What each program links (pkg-config names). The core is an archive, so a program pulls in
# only the core objects it uses, and links only the libraries those need.
PKGS_raild   := libpq jansson libcurl libmicrohttpd openssl nettle
PKGS_railsim := jansson libcurl libmicrohttpd openssl nettle
PKGS_railtop := libpq jansson libcurl ncursesw openssl nettle
PKGS_ALL     := $(sort $(PKGS_raild) $(PKGS_railsim) $(PKGS_railtop))
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS_ALL) 2>/dev/null) -I$(shell pg_config --includedir 2>/dev/null)
libs = $(shell pkg-config --libs $(PKGS_$(1)) 2>/dev/null) $(if $(filter libpq,$(PKGS_$(1))),-lpq) -lpthread -lm

# Where things go: the plain build by default; `make san` sets all three for the sanitizers.
BUILD   ?= build/obj
BIN     ?= bin
TBIN    ?= build/tests
CORE_A   = $(BUILD)/libcore.a

CORE_SRC  := $(wildcard src/core/*.c)
RAILD_SRC := $(wildcard src/raild/*.c)
SIM_SRC   := $(wildcard src/railsim/*.c)
UI_SRC    := $(wildcard ui/*.c)
UNIT_SRC  := $(wildcard tests/unit/*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_UI    := theme config

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

PROGS := $(BIN)/raild $(BIN)/railsim $(BIN)/railtop
UNITS := $(patsubst tests/unit/%.c,$(TBIN)/%,$(UNIT_SRC))

.PHONY: all deps check demo bench storm fuzz install uninstall clean units san-units readme-keys fuzz-bins
all: $(PROGS) $(UNITS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $@"; $(CC) $(CFLAGS) $(XFLAGS) $(XFLAGS_EXTRA) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

# Migrations are embedded so `bin/raild migrate` works from any directory.
MIGRATIONS := $(sort $(wildcard db/migrations/*.sql))
# the list itself is a prerequisite too: a migration deleted (or renamed) changes no file
# timestamp, and the binary would go on embedding it
build/gen/migrations.list: FORCE
	@mkdir -p $(@D); echo '$(MIGRATIONS)' | cmp -s - $@ || echo '$(MIGRATIONS)' >$@
build/gen/migrations.c: $(MIGRATIONS) build/gen/migrations.list scripts/embed_migrations.py
	@mkdir -p build/gen
	@python3 scripts/embed_migrations.py $@

$(BUILD)/build/gen/migrations.o: build/gen/migrations.c
	@mkdir -p $(dir $@)
	@echo "  CC $@"; $(CC) $(CFLAGS) $(XFLAGS) $(XFLAGS_EXTRA) $(PKG_CFLAGS) -c $< -o $@

RAILD_SRC += build/gen/migrations.c

$(CORE_A): $(call obj,$(CORE_SRC))
	@echo "  AR $@"; rm -f $@; ar rcs $@ $^

# One link recipe: a program's objects, the core archive, the program's libraries (LINKAS
# names the program whose PKGS_ apply).
LINK = @mkdir -p $(dir $@); echo "  LD $@"; $(CC) $(CFLAGS) $(XFLAGS) -o $@ $(filter %.o,$^) $(CORE_A) \
         $(call libs,$(LINKAS))

$(BIN)/raild: LINKAS := raild
$(BIN)/raild: $(call obj,$(RAILD_SRC)) $(CORE_A)
	$(LINK)
$(BIN)/railsim: LINKAS := railsim
$(BIN)/railsim: $(call obj,$(SIM_SRC)) $(CORE_A)
	$(LINK)
$(BIN)/railtop: LINKAS := railtop
$(BIN)/railtop: $(call obj,$(UI_SRC)) $(CORE_A)
	$(LINK)

# Unit tests link the daemon's modules (minus main) and the core.
RAILD_LIB := $(filter-out src/raild/main.c,$(RAILD_SRC))
$(TBIN)/%: tests/unit/%.c $(call obj,$(RAILD_LIB)) $(CORE_A)
	@mkdir -p $(dir $@)
	@echo "  CC $@"; $(CC) $(CFLAGS) $(XFLAGS) $(PKG_CFLAGS) -o $@ $< $(filter %.o,$^) $(CORE_A) $(call libs,raild)

units: $(UNITS)

# One sanitizer recipe: the same rules into build/san*, with ASan+UBSan, used by `make check`
# for the C tests, the fuzz corpora and the daemons.
SAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
san:
	@$(MAKE) --no-print-directory BUILD=build/san BIN=build/san-bin TBIN=build/san-tests CFLAGS="$(SAN_CFLAGS)" \
	  san-all
san-all: $(PROGS) $(UNITS) $(patsubst %,$(TBIN)/fuzz_%,$(FUZZ_NAMES))

# Fuzz harnesses (tests/fuzz/fuzz_*.c, libFuzzer entry points). `make check` replays each
# seed corpus through them under ASan+UBSan (gcc + replay.c); `make fuzz` builds them with
# clang's libFuzzer and fuzzes each for FUZZ_SECONDS (scripts/fuzz.sh). The theme and config
# harnesses include their console file (for its static parser) and link the rest of the
# console, whose main() is renamed away; the others link the daemon's modules.
fuzz_objs = $(if $(filter $(1),$(FUZZ_UI)),$(call obj,$(filter-out ui/main.c ui/$(1).c,$(UI_SRC)) $(CORE_SRC)) \
              $(BUILD)/ui/main-lib.o,$(call obj,$(filter-out $(if $(filter orders_csv,$(1)),src/raild/orders_import.c),\
              $(RAILD_LIB)) $(CORE_SRC)))
FUZZ_CC = $(CC) $(CFLAGS) $(XFLAGS) $(XFLAGS_EXTRA) -Wno-unused-function $(PKG_CFLAGS)
fuzz_libs = $(call libs,$(if $(filter $(1),$(FUZZ_UI)),railtop,raild))
$(BUILD)/ui/main-lib.o: ui/main.c
	@mkdir -p $(dir $@)
	@echo "  CC $@"; $(CC) $(CFLAGS) $(XFLAGS) $(XFLAGS_EXTRA) $(PKG_CFLAGS) -Dmain=railtop_main -c $< -o $@
.SECONDEXPANSION:
$(TBIN)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $$(call fuzz_objs,$$*)
	@mkdir -p $(dir $@)
	@echo "  CC $@"; $(FUZZ_CC) -DFUZZ_CORPUS='"tests/fuzz/corpus/$*"' -o $@ $(filter %.c %.o,$^) $(call fuzz_libs,$*)
build/fuzz/bin/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $$(call fuzz_objs,$$*)
	@mkdir -p build/fuzz/bin
	@echo "  CC $@"; $(FUZZ_CC) -fsanitize=fuzzer -o $@ $(filter %.c %.o,$^) $(call fuzz_libs,$*)
fuzz-bins: $(patsubst %,build/fuzz/bin/fuzz_%,$(FUZZ_NAMES))

deps:
	@bash scripts/deps.sh

check: deps
	@bash scripts/check.sh

demo: deps
	@bash scripts/demo.sh

bench: deps
	@bash scripts/bench.sh

# libFuzzer on every harness for FUZZ_SECONDS each (default 60); not part of make check
fuzz: deps
	@bash scripts/deps.sh fuzz
	@bash scripts/fuzz.sh

# the fault storm with its invariant checker: STORM_SEEDS="1 2 3" STORM_SECONDS=120
storm: deps
	@bash scripts/storm.sh

clean:
	rm -rf build bin

# make install [PREFIX=/usr/local] [DESTDIR=…]: the three programs (migrations are embedded
# in raild), themes where railtop looks beside its binary (PREFIX/share/railtop/themes), man
# pages, systemd units (their ExecStart names PREFIX/bin), bash completion and examples.
PREFIX  ?= /usr/local
BINDIR  := $(PREFIX)/bin
SHARE   := $(PREFIX)/share
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL_FILES = $(BINDIR)/raild $(BINDIR)/railtop $(BINDIR)/railsim $(SHARE)/man/man1/railtop.1 \
  $(SHARE)/man/man1/railsim.1 $(SHARE)/man/man8/raild.8 $(UNITDIR)/raild.service $(UNITDIR)/raild-watch@.service \
  $(SHARE)/bash-completion/completions/raild $(SHARE)/bash-completion/completions/railtop \
  $(SHARE)/bash-completion/completions/railsim $(SHARE)/doc/railtop/raild.env.example \
  $(SHARE)/doc/railtop/railtop.config.example $(patsubst themes/%,$(SHARE)/railtop/themes/%,$(wildcard themes/*.theme))
install: $(PROGS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHARE)/railtop/themes $(DESTDIR)$(SHARE)/man/man1 \
	  $(DESTDIR)$(SHARE)/man/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SHARE)/bash-completion/completions \
	  $(DESTDIR)$(SHARE)/doc/railtop
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)/
	install -m 644 themes/*.theme $(DESTDIR)$(SHARE)/railtop/themes/
	install -m 644 docs/man/railtop.1 docs/man/railsim.1 $(DESTDIR)$(SHARE)/man/man1/
	install -m 644 docs/man/raild.8 $(DESTDIR)$(SHARE)/man/man8/
	for u in raild.service raild-watch@.service; do \
	  sed 's|@BINDIR@|$(BINDIR)|g' dist/systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u && chmod 644 $(DESTDIR)$(UNITDIR)/$$u; done
	install -m 644 dist/completion/raild dist/completion/railtop dist/completion/railsim \
	  $(DESTDIR)$(SHARE)/bash-completion/completions/
	install -m 644 dist/raild.env.example dist/railtop.config.example $(DESTDIR)$(SHARE)/doc/railtop/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALL_FILES))
	-rmdir $(DESTDIR)$(SHARE)/railtop/themes $(DESTDIR)$(SHARE)/railtop $(DESTDIR)$(SHARE)/doc/railtop 2>/dev/null

-include $(wildcard $(BUILD)/*/*/*.d $(BUILD)/*/*.d)

# ui/README.md's key table, from the request table (tests/ui/90_readme_keys.py checks it)
readme-keys: bin/railtop
	@python3 -c 'import re,subprocess,sys; p="ui/README.md"; s=open(p).read(); t=subprocess.run(["bin/railtop","--keys-markdown"],capture_output=True,text=True,check=True).stdout; open(p,"w").write(re.sub(r"(?s)(<!-- keys:begin -->\n).*?(<!-- keys:end -->)", lambda m: m.group(1)+t+m.group(2), s))'

.PHONY: FORCE
FORCE:
