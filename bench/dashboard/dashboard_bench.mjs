// Dashboard benchmark: page weight and time to first render of the first view in Chromium, and
// the server's cutout PNG renders/s next to plain static GETs of the same server in the same run
// (the ratio is what to compare across machines). Prints its figures; not a test.
// node dashboard_bench.mjs --ebs-flow BIN --workflow web/test/dashboard-live.yaml --data DIR [--views 5]
import { startRun, openBrowser, parseArgs } from '../../web/test/harness.mjs';

const args = parseArgs(process.argv.slice(2));
const views = Number(args.views || 5);
const median = xs => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const run = startRun(args['ebs-flow'], args.workflow, { dataDir: args.data });
try {
  const url = await run.url;
  // Let the real alerts and notices reach the page first.
  for (let i = 0; i < 100; ++i) {
    const events = await (await fetch(url + 'api/events')).json();
    if (events.some(e => e.coincidences.length)) break;
    await new Promise(r => setTimeout(r, 100));
  }

  // First views: a fresh browser profile each time (cold cache).
  const rows = [];
  for (let v = 0; v < views; ++v) {
    const browser = await openBrowser();
    const page = await browser.context.newPage();
    const t0 = Date.now();
    await page.goto(url);
    await page.waitForFunction(() => {
      const imgs = [...document.querySelectorAll('#alerts img.cutout')];
      return imgs.length >= 9 && imgs.every(i => i.complete && i.naturalWidth > 0) &&
             [...document.querySelectorAll('canvas.skymap')].some(c => c.dataset.drawn === 'skymap') &&
             document.querySelectorAll('svg.lightcurve circle').length > 0;
    }, null, { timeout: 30000, polling: 20 });
    const complete_ms = Date.now() - t0;
    const m = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource');
      const sum = (list) => list.reduce((n, r) => n + r.transferSize, 0);
      const isPage = r => /\.(js|css)$/.test(new URL(r.name).pathname);
      return {
        fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
        page_bytes: nav.transferSize + sum(res.filter(isPage)),
        json_bytes: sum(res.filter(r => new URL(r.name).pathname.startsWith('/api/'))),
        png_bytes: sum(res.filter(r => r.name.endsWith('.png'))),
        requests: res.length + 1,
      };
    });
    rows.push({ ...m, complete_ms, total: m.page_bytes + m.json_bytes + m.png_bytes });
    await browser.close();
  }
  console.log(`first view, median of ${views} cold loads (Chromium, loopback):`);
  console.log(`  first-contentful-paint      ${median(rows.map(r => r.fcp)).toFixed(0)} ms`);
  console.log(`  everything drawn            ${median(rows.map(r => r.complete_ms))} ms (graph, 36 cutouts, light curves, sky map)`);
  console.log(`  page (HTML+JS+CSS)          ${median(rows.map(r => r.page_bytes))} bytes transferred`);
  console.log(`  data (JSON)                 ${median(rows.map(r => r.json_bytes))} bytes`);
  console.log(`  images (cutout + sky PNGs)  ${median(rows.map(r => r.png_bytes))} bytes`);
  console.log(`  total                       ${median(rows.map(r => r.total))} bytes in ${median(rows.map(r => r.requests))} requests`);

  // Server throughput: distinct cutouts rendered on every request (no cache), 4 clients.
  const alerts = await (await fetch(url + 'api/alerts')).json();
  const cutoutUrls = alerts.flatMap(a => ['science', 'template', 'difference'].map(k => `${url}cutout/${a.alert_id}/${k}.png`));
  async function rate(urls, n, clients = 4) {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: clients }, async () => {
      while (next < n) {
        const u = urls[next++ % urls.length];
        const res = await fetch(u);
        await res.arrayBuffer();
        if (!res.ok) throw new Error(u + ': ' + res.status);
      }
    }));
    return n / ((performance.now() - t0) / 1000);
  }
  await rate(cutoutUrls, 100);  // warm-up
  const cutoutsPerS = await rate(cutoutUrls, 1500);
  const staticPerS = await rate([url + 'dashboard.css'], 1500);
  const t = performance.now();
  await (await fetch(url + 'skymap/S230518h.png')).arrayBuffer();
  const skymapCachedMs = performance.now() - t;
  console.log(`server (4 HTTP clients, same run):`);
  console.log(`  cutout FITS.gz -> zscale PNG ${cutoutsPerS.toFixed(0)} renders/s (${cutoutUrls.length} distinct cutouts)`);
  console.log(`  static GET (dashboard.css)   ${staticPerS.toFixed(0)} requests/s`);
  console.log(`  ratio                        a cutout render costs ${(staticPerS / cutoutsPerS).toFixed(1)}x a static GET`);
  console.log(`  sky map PNG, cached          ${skymapCachedMs.toFixed(1)} ms`);
} finally {
  await run.stop();
}
