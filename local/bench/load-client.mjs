// Plain node: `clients` loops, each sending GET requests to the URLs in turn (bearer key) until `durationMs`
// has passed; prints one JSON line: every latency (ms), answers by status, transport errors.
const [urlsJson, bearer, clients, durationMs] = process.argv.slice(2);
const urls = JSON.parse(urlsJson);
const latencies = [];
const statuses = {};
let transportErrors = 0;
const started = performance.now();
const end = started + Number(durationMs);
let next = 0;
await Promise.all(
  Array.from({ length: Number(clients) }, async () => {
    while (performance.now() < end) {
      const url = urls[next++ % urls.length];
      const t0 = performance.now();
      try {
        const res = await fetch(url, { headers: { authorization: `Bearer ${bearer}` } });
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      } catch {
        transportErrors += 1;
      }
      latencies.push(performance.now() - t0);
    }
  }),
);
process.stdout.write(`${JSON.stringify({ latencies, statuses, transportErrors, elapsedMs: performance.now() - started })}\n`);
