// The dashboard of a cluster run in a real browser: `ebs-flow run --local-cluster 2 --http` (the
// coordinator serves the page from the books its nodes report); the graph with each actor's node,
// live rates, a sink's latency, and a clean stop on SIGTERM.
// node dashboard_cluster_browser_test.mjs --ebs-flow BIN --workflow YAML --screenshot PNG
import { startRun, openBrowser, parseArgs, checker, newPage } from './harness.mjs';

const args = parseArgs(process.argv.slice(2));
const run = startRun(args['ebs-flow'], args.workflow, { extraArgs: ['--local-cluster', '2', '--threads', '1'] });
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
