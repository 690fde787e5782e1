// The dashboard in a real browser: `ebs-flow run` on real ZTF alerts + LVK notices with --http,
// Chromium loads the page; the graph, live rates, decoded cutouts, light curves and the skymap
// with its candidates must all be there. Saves a screenshot.
// node dashboard_browser_test.mjs --ebs-flow BIN --workflow YAML --data DIR --screenshot PNG
import { startRun, openBrowser, parseArgs, checker, newPage, loadedCutouts } from './harness.mjs';

const args = parseArgs(process.argv.slice(2));
const run = startRun(args['ebs-flow'], args.workflow, { dataDir: args.data });
let browser;
const { check, failures } = checker();

try {
  const url = await run.url;
  console.log('dashboard at', url);
  browser = await openBrowser();
  const { page, errors } = await newPage(browser);
  await page.goto(url);

  // The graph: one node per actor plus the dead-letter sink the engine adds.
  await page.waitForFunction(() => document.querySelectorAll('#graph g.node').length >= 8, null, { timeout: 20000 });
  const nodes = await page.$$eval('#graph g.node', ns => ns.map(n => n.dataset.id));
  check(['ztf', 'notices', 'match', 'show', 'sim', 'bright', 'kept', 'dead_letters'].every(id => nodes.includes(id)),
        `graph shows every actor (${nodes.join(', ')})`);
  check(await page.$$eval('#graph path.edge', es => es.length) >= 7, 'graph has its wires');
  check(await page.textContent('#workflow') === 'dashboard-live', 'workflow name in the header');

  // Live rates: the simulator (2000/s) keeps them above zero; the counters grow between polls.
  await page.waitForFunction(() => Number(document.body.dataset.statsUpdates || 0) >= 3, null, { timeout: 20000 });
  const simIn = async () => Number((await page.textContent('#stats tr[data-id="sim"] td:nth-child(5)')).replace(/,/g, ''));
  const before = await simIn();
  await page.waitForFunction(() => {
    const cell = document.querySelector('#stats tr[data-id="sim"] td:nth-child(3)');
    return cell && Number(cell.textContent.replace(/,/g, '')) > 0;
  }, null, { timeout: 20000 });
  await page.waitForTimeout(2500);
  const after = await simIn();
  check(after > before, `sim 'in' grows while running (${before} -> ${after})`);
  const rate = await page.textContent('#graph g.node[data-id="sim"] .rate');
  const perSecond = Number(rate.split(' ')[0].replace(/,/g, ''));
  check(perSecond > 1500 && perSecond < 2500, `sim node shows its rate, about 2000/s (${rate})`);
  check(await page.$$eval('#stats tr[data-id="sim"] td:nth-child(4) polyline', p => p.length) === 1, 'rate sparkline drawn');
  // Sinks show their end-to-end latency (p50 / p99 / max ms); other actors none.
  await page.waitForFunction(() => (document.querySelector('#stats tr[data-id="kept"] td:nth-child(11)') || {}).textContent, null, { timeout: 20000 });
  const latency = (await page.textContent('#stats tr[data-id="kept"] td:nth-child(11)')).split(' / ').map(v => Number(v.replace(/,/g, '')));
  check(latency.length === 3 && latency.every(v => v >= 0) && latency[0] <= latency[1] && latency[1] <= latency[2],
        `the count sink shows its latency p50 / p99 / max (${latency.join(' / ')} ms)`);
  check(await page.textContent('#stats tr[data-id="bright"] td:nth-child(11)') === '', 'a transform shows no latency');

  // Alerts: three cutouts each, decoded by the browser; light curves with points.
  const cutouts = await loadedCutouts(page);
  check(cutouts.length >= 9 && cutouts.every(([w, h]) => w > 0 && h > 0),
        `${cutouts.length} cutout images decoded (${cutouts.slice(0, 3).map(c => c.join('x')).join(', ')}, ...)`);
  const kinds = await page.$$eval('#alerts article.alert:first-child figcaption', f => f.map(x => x.textContent));
  check(kinds.join(',') === 'science,template,difference', `science, template, difference (${kinds})`);
  await page.waitForFunction(() => document.querySelectorAll('svg.lightcurve circle.detection').length > 0, null, { timeout: 20000 });
  const points = await page.$$eval('svg.lightcurve', svgs => svgs.map(s => [s.querySelectorAll('circle.detection').length, s.querySelectorAll('path.limit').length]));
  check(points.filter(([d]) => d > 0).length >= 3, `light curves drawn (detections, limits per alert: ${JSON.stringify(points.slice(0, 4))})`);
  check(points.some(([, l]) => l > 0), 'upper limits drawn as triangles');

  // Sky events: S230518h's map drawn under the candidates (the mock MS230518e is dropped).
  await page.waitForFunction(() => [...document.querySelectorAll('canvas.skymap')].some(c => c.dataset.drawn === 'skymap'), null, { timeout: 30000 });
  const sky = await page.$$eval('canvas.skymap', cs => cs.map(c => {
    const ctx = c.getContext('2d');
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let painted = 0, bright = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 0) painted++;
      if (data[i] > 150 && data[i + 1] > 150 && data[i + 2] < 120) bright++;  // the yellow end of viridis
    }
    return { id: c.closest('article').dataset.id, drawn: c.dataset.drawn, candidates: Number(c.dataset.candidates), painted, bright, corner: data[3] };
  }));
  console.log('sky maps:', JSON.stringify(sky));
  const gw = sky.find(s => s.drawn === 'skymap');
  check(gw && gw.painted > 0.7 * Math.PI / 4 * 720 * 360 && gw.corner === 0, 'Mollweide ellipse painted, corners empty');
  check(gw && gw.bright > 20, `probability peak visible (${gw && gw.bright} yellow pixels)`);
  const events = await (await page.request.get(url + 'api/events')).json();
  const matched = events.reduce((n, e) => n + e.coincidences.filter(c => c.ra !== undefined).length, 0);
  check(sky.reduce((n, s) => n + s.candidates, 0) === matched && matched > 0,
        `coincident candidates plotted over the map (${matched} from /api/events)`);

  check(errors.length === 0, `no errors in the page (${errors.join('; ')})`);
  await page.screenshot({ path: args.screenshot, fullPage: true });
  console.log('screenshot:', args.screenshot);
} catch (e) {
  failures.push(String(e.stack || e));
  console.log('FAIL', e.stack || e);
} finally {
  if (browser) await browser.close();
  const { code, signal } = await run.stop();
  check(code === 0, `ebs-flow stopped cleanly on SIGTERM (exit ${code}${signal ? ', signal ' + signal : ''})`);
  if (code !== 0) console.log(run.stderr());
}
process.exit(failures.length ? 1 : 0);
