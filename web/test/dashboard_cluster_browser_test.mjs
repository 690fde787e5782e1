// The dashboard of a cluster run in a real browser: `ebs-flow run --local-cluster 2 --http` (the
// coordinator serves the page from the books its nodes report); the graph with each actor's node,
// live rates, a sink's latency, what the dashboard sink on node2 keeps (alerts with cutouts and
// light curves, the sky map and its candidates: shipped to the coordinator), and a clean stop on SIGTERM.
// node dashboard_cluster_browser_test.mjs --ebs-flow BIN --workflow YAML --data DIR --screenshot PNG
import { startRun, openBrowser, parseArgs, checker, newPage, loadedCutouts } from './harness.mjs';

const args = parseArgs(process.argv.slice(2));
const run = startRun(args['ebs-flow'], args.workflow,
                     { dataDir: args.data, extraArgs: ['--local-cluster', '2', '--threads', '1'] });
let browser;
const { check, failures } = checker();

try {
  const url = await run.url;
  console.log('dashboard at', url);
  browser = await openBrowser();
  const { page, errors } = await newPage(browser);
  await page.goto(url);

  // The graph: each actor with the node its instance runs on (the page loads it once the run started).
  await page.waitForFunction(() => document.querySelectorAll('#graph g.node').length >= 4, null, { timeout: 30000 });
  const typeLine = async id => page.textContent(`#graph g.node[data-id="${id}"] text:nth-of-type(2)`);
  check((await typeLine('sim')) === 'simulator · node1', `sim on node1 (${await typeLine('sim')})`);
  check((await typeLine('bright')) === 'filter · node2', `bright on node2 (${await typeLine('bright')})`);
  check((await page.textContent('#stats tr[data-id="kept"] td:nth-child(2)')) === 'count · node1', 'the table names the node too');

  // Live rates from the nodes' books: the simulator's 2000/s, counters growing between polls.
  await page.waitForFunction(() => Number(document.body.dataset.statsUpdates || 0) >= 3, null, { timeout: 20000 });
  const keptIn = async () => Number((await page.textContent('#stats tr[data-id="kept"] td:nth-child(5)')).replace(/,/g, ''));
  await page.waitForFunction(() => {
    const cell = document.querySelector('#stats tr[data-id="sim"] td:nth-child(3)');
    return cell && Number(cell.textContent.replace(/,/g, '')) > 0;
  }, null, { timeout: 20000 });
  const before = await keptIn();
  await page.waitForTimeout(2500);
  const after = await keptIn();
  check(after > before, `kept 'in' (on node1, after node2) grows while running (${before} -> ${after})`);
  const rate = await page.textContent('#graph g.node[data-id="sim"] .rate');
  const perSecond = Number(rate.split(' ')[0].replace(/,/g, ''));
  check(perSecond > 1200 && perSecond < 2800, `sim shows its rate, about 2000/s (${rate})`);
  // The sink's end-to-end latency, from node1's histogram (records crossed to node2 and back).
  await page.waitForFunction(() => (document.querySelector('#stats tr[data-id="kept"] td:nth-child(11)') || {}).textContent, null, { timeout: 20000 });
  const latency = (await page.textContent('#stats tr[data-id="kept"] td:nth-child(11)')).split(' / ').map(v => Number(v.replace(/,/g, '')));
  check(latency.length === 3 && latency.every(v => v > 0) && latency[0] <= latency[1] && latency[1] <= latency[2],
        `the count sink shows its latency p50 / p99 / max (${latency.join(' / ')} ms)`);
  const metrics = await (await page.request.get(url + 'metrics')).text();
  check(/ebs_sink_latency_seconds_count\{actor="kept"\} [1-9]/.test(metrics), '/metrics has the sink latency');

  // What the dashboard sink on node2 keeps, on the coordinator's page: alerts with their three
  // cutouts (rendered by the coordinator from what node2 shipped) and light curves.
  check((await typeLine('show')) === 'dashboard · node2', `show on node2 (${await typeLine('show')})`);
  const cutouts = await loadedCutouts(page);
  check(cutouts.length >= 9 && cutouts.every(([w, h]) => w > 0 && h > 0),
        `${cutouts.length} cutout images decoded from node2's alerts (${cutouts.slice(0, 3).map(c => c.join('x')).join(', ')}, ...)`);
  await page.waitForFunction(() => document.querySelectorAll('svg.lightcurve circle.detection').length > 0, null, { timeout: 20000 });
  const curves = await page.$$eval('svg.lightcurve', svgs => svgs.filter(s => s.querySelectorAll('circle.detection').length > 0).length);
  check(curves >= 3, `light curves drawn (${curves})`);
  // S230518h's map and the candidates over it.
  await page.waitForFunction(() => [...document.querySelectorAll('canvas.skymap')].some(c => c.dataset.drawn === 'skymap' && Number(c.dataset.candidates) > 0),
                             null, { timeout: 30000 });
  const sky = await page.$$eval('canvas.skymap', cs => cs.map(c => ({ id: c.closest('article').dataset.id, drawn: c.dataset.drawn, candidates: Number(c.dataset.candidates) })));
  console.log('sky maps:', JSON.stringify(sky));
  const gw = sky.find(s => s.drawn === 'skymap');
  check(gw && gw.id === 'S230518h' && gw.candidates > 0, `S230518h's sky map drawn with ${gw && gw.candidates} candidates over it`);
  const feedRecords = Number((await page.textContent('#feed')).replace(/,/g, ''));
  check(feedRecords > 50, `the page counts the records node2's sink received (${feedRecords})`);

  check(errors.length === 0, `no errors in the page (${errors.join('; ')})`);
  await page.screenshot({ path: args.screenshot, fullPage: true });
  console.log('screenshot:', args.screenshot);
} catch (e) {
  failures.push(String(e.stack || e));
  console.log('FAIL', e.stack || e);
} finally {
  if (browser) await browser.close();
  const { code, signal } = await run.stop();
  check(code === 0, `ebs-flow (coordinator) stopped cleanly on SIGTERM, the nodes drained (exit ${code}${signal ? ', signal ' + signal : ''})`);
  if (code !== 0) console.log(run.stderr());
}
process.exit(failures.length ? 1 : 0);
