-- 0073: exceptions about a transfer with no payment (unmatched, unclassified internal moves,
-- look-alike tokens) were opened without an environment, so the console could not find
-- their rail's decimals and showed base units as if they had 6 (649790000000 for 0.00064979
-- on an 18-decimal rail). A network belongs to one environment: take it from there.
UPDATE exceptions e SET environment = n.environment
  FROM networks n WHERE e.environment IS NULL AND n.name = e.network;
