// bench-peer-graphile.js — the peer baseline of issue 13: what a team would build instead of
// raild's dispatcher. graphile-worker (npm) runs the same job for each event: sign it with the
// `standardwebhooks` package, POST it with fetch to the same `railsim receiver`, and insert one
// attempt row (status, duration, body excerpt, error) into PostgreSQL — the same database.
// Settings as graphile-worker recommends for throughput: one worker process with a high
// `concurrency` and a pool at least that large; jobs are queued before the clock starts.
//
//   node scripts/bench-peer-graphile.js N RECEIVER_URL SECRET_FILE [CONCURRENCY] [TAG]
//
// PG* variables name the database. Prints one JSON line: {"n":…, "seconds":…, "per_s":…,
// "cpu_s":…}. Exit 1 when not every job was delivered and recorded.
"use strict";
const path = require("path");
const fs = require("fs");
const NPM = process.env.BENCH_NPM_DIR || path.join(__dirname, "..", "build", "npm", "node_modules");
const { run, makeWorkerUtils } = require(path.join(NPM, "graphile-worker"));
const { Webhook } = require(path.join(NPM, "standardwebhooks"));
const { Pool } = require(path.join(NPM, "pg"));

const [n, url, secretFile, conc = "32", tag = "p" + process.pid] = process.argv.slice(2);
const N = parseInt(n, 10), CONCURRENCY = parseInt(conc, 10);
const wh = new Webhook(fs.readFileSync(secretFile, "utf8").trim());

async function main() {
  const pool = new Pool({ max: CONCURRENCY + 4 });       // connection settings from PG*
  await pool.query(`CREATE TABLE IF NOT EXISTS bench_peer_attempts (
      id bigserial PRIMARY KEY, job_id bigint, event_id text NOT NULL, started_at timestamptz NOT NULL,
      duration_ms integer, http_status integer, response_body text, error text, success boolean)`);
  const utils = await makeWorkerUtils({ pgPool: pool });
  await utils.migrate();
  // the events, queued before the clock starts (as raild's outbox rows are)
  await pool.query(
    `SELECT graphile_worker.add_job('deliver', json_build_object('id', 'evt_' || $1::text || '_' || g,
       'body', json_build_object('id', 'evt_' || $1::text || '_' || g, 'type', 'payment.confirmed',
         'created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'environment', 'sandbox', 'sequence', 1, 'data', json_build_object('n', g))::text))
     FROM generate_series(1, $2::int) g`, [tag, N]);
  const t0 = process.hrtime.bigint(), cpu0 = process.cpuUsage();
  const runner = await run({
    pgPool: pool, concurrency: CONCURRENCY, noHandleSignals: true, pollInterval: 1000,
    logger: new (require(path.join(NPM, "graphile-worker")).Logger)(() => () => {}),
    taskList: {
      deliver: async (p, helpers) => {
        const started = new Date();
        const sig = wh.sign(p.id, started, p.body);
        let status = null, body = null, err = null;
        try {
          const r = await fetch(url, { method: "POST", body: p.body, headers: {
            "content-type": "application/json", "webhook-id": p.id,
            "webhook-timestamp": String(Math.floor(started.getTime() / 1000)), "webhook-signature": sig } });
          status = r.status;
          body = (await r.text()).slice(0, 2048);
        } catch (e) { err = String(e).slice(0, 500); }
        const ok = status !== null && status >= 200 && status < 300;
        await helpers.withPgClient((c) => c.query(
          `INSERT INTO bench_peer_attempts (job_id, event_id, started_at, duration_ms, http_status, response_body,
             error, success) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [helpers.job.id, p.id, started, Date.now() - started.getTime(), status, body, err, ok]));
        if (!ok) throw new Error("delivery failed: " + (err || status));   // graphile-worker retries it
      },
    },
  });
  // done when every event has a successful attempt recorded
  const like = "evt_" + tag + "_%";
  for (;;) {
    const { rows } = await pool.query(
      "SELECT count(DISTINCT event_id)::int AS n FROM bench_peer_attempts WHERE success AND event_id LIKE $1", [like]);
    if (rows[0].n >= N) break;
    if (Number(process.hrtime.bigint() - t0) / 1e9 > 600) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9, cpu = process.cpuUsage(cpu0);
  const { rows } = await pool.query(
    "SELECT count(DISTINCT event_id)::int AS n FROM bench_peer_attempts WHERE success AND event_id LIKE $1", [like]);
  await runner.stop();
  await utils.release();
  await pool.end();
  console.log(JSON.stringify({ n: rows[0].n, seconds: +secs.toFixed(3), per_s: +(rows[0].n / secs).toFixed(1),
                               cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(2) }));
  process.exit(rows[0].n >= N ? 0 : 1);
}
main().catch((e) => { console.error(e); process.exit(1); });
