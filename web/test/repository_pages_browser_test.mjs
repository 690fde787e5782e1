// The pages of `ebs-flow serve` in a real browser, on a repository written by `ebs-flow run` from
// real ZTF alerts and LVK notices: the object page shows the light-curve points python3-avro finds
// in the alert files and the three cutouts; the event page its sky map and the candidates, ranked;
// search by name and by sexagesimal position; printed URL + path. Saves screenshots.
// node repository_pages_browser_test.mjs --ebs-flow BIN --workflow YAML --data DIR --screenshots PREFIX
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBrowser, parseArgs, checker, newPage } from './harness.mjs';

const args = parseArgs(process.argv.slice(2));
const { check, failures } = checker();
const runDir = mkdtempSync(join(tmpdir(), 'ebs-pages-'));
const env = { ...process.env, EBS_TEST_DATA: args.data };
execFileSync(args['ebs-flow'], ['run', args.workflow, '--quiet', '--no-progress', '--run-dir', runDir], { env, stdio: 'inherit' });
const db = join(runDir, 'repo.db');

// python3-avro's count of each object's distinct light-curve points (as ztf_repository_test does).
const oracle = JSON.parse(execFileSync('/usr/bin/python3', ['-c', `
import sys, os, json
from avro.datafile import DataFileReader
from avro.io import DatumReader
points = {}
for path in [os.path.join(d, n) for d in sys.argv[1:] for n in sorted(os.listdir(d)) if n.endswith('.avro')]:
    with DataFileReader(open(path, 'rb'), DatumReader()) as reader:
        for rec in reader:
            c = rec['candidate']
            s = points.setdefault(rec['objectId'], set())
            s.add((c['jd'], c['fid'], 'det'))
            for p in rec.get('prv_candidates') or []:
                s.add((p['jd'], p['fid'], 'det' if p['magpsf'] is not None else 'ul'))
print(json.dumps({o: [sum(1 for p in s if p[2] == 'det'), sum(1 for p in s if p[2] == 'ul')] for o, s in points.items()}))
`, join(args.data, 'ztf', 'fink-20200101-v3.3'), join(args.data, 'ztf', 'kowalski-v3.3-v4.01')]).toString());
// The crossmatched object with the most detections.
const objectId = JSON.parse(execFileSync(args['ebs-flow'], ['query', db,
  "SELECT object_id, count(*) AS n FROM lightcurve WHERE kind = 'detection' AND object_id IN " +
  "(SELECT object_id FROM annotations WHERE kind = 'crossmatch') GROUP BY object_id ORDER BY n DESC, object_id LIMIT 1",
  '--format', 'jsonl']).toString()).object_id;
const [detections, limits] = oracle[objectId];

const serve = spawn(args['ebs-flow'], ['serve', db, '--http', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
let serveErr = '';
serve.stderr.on('data', d => { serveErr += d; });
const url = await new Promise((resolve, reject) => {
  let out = '';
  serve.stdout.on('data', d => {
    out += d;
    for (const line of out.split('\n')) { try { const j = JSON.parse(line); if (j.serving) resolve(j.serving); } catch { /* partial */ } }
  });
  serve.on('exit', code => reject(new Error(`serve exited (${code}): ${serveErr}`)));
  setTimeout(() => reject(new Error('no URL within 20 s: ' + serveErr)), 20000);
});
console.log('serving', url, 'object', objectId, 'oracle detections/limits', detections, limits);

let browser;
try {
  browser = await openBrowser();
  const { page, errors } = await newPage(browser);
  const ready = kind => page.waitForFunction(k => document.body.dataset.ready === k, kind, { timeout: 20000 });

  // Home: sky events and recent alerts.
  await page.goto(url + '/');
  await ready('home');
  const eventIds = await page.$$eval('#events tbody a', as => as.map(a => a.textContent));
  check(eventIds.includes('S230518h'), `home lists the sky events (${eventIds})`);
  check(await page.$$eval('#recent tbody tr', r => r.length) === 86, 'home lists the recent alerts (86 of 86)');

  // Object page: the printed URL with a path appended.
  await page.goto(url + '/objects/' + objectId);
  await ready('object');
  const drawn = await page.$$eval('#lightcurve', s => [s[0].querySelectorAll('circle.detection').length, s[0].querySelectorAll('path.limit').length]);
  check(drawn[0] === detections && drawn[1] === limits,
        `light curve: ${drawn[0]} detections and ${drawn[1]} upper limits drawn, python3-avro finds ${detections} and ${limits}`);
  await page.waitForFunction(() => [...document.querySelectorAll('#cutouts img')].every(i => i.complete), null, { timeout: 20000 });
  const cutouts = await page.$$eval('#cutouts img', imgs => imgs.map(i => [i.alt, i.naturalWidth, i.naturalHeight]));
  check(cutouts.length === 3 && cutouts.every(([, w, h]) => w > 0 && h > 0),
        `three cutouts decoded (${JSON.stringify(cutouts)})`);
  const header = await page.textContent('#page dl.facts');
  check(/ISO UTC/.test(header) && /JD UTC/.test(header) && /MJD TAI/.test(header) && /20\d\d-\d\d-\d\dT/.test(header),
        'times labelled ISO UTC, JD UTC and MJD TAI');
  check(await page.$$eval('#coincidences tbody a', as => as.some(a => a.textContent === 'S230518h')), 'coincidence with S230518h listed');
  const crossmatches = await page.$$eval('#crossmatches tbody tr', rows => rows.map(r => [...r.children].map(c => c.textContent)));
  check(crossmatches.length > 0 && crossmatches.every(r => r[3] === 'gcvs' && r[8].startsWith('xmatch (crossmatch ')),
        `crossmatches listed with their provenance (${crossmatches.length}; ${crossmatches[0] && crossmatches[0][8]})`);
  const classes = await page.$$eval('#classifications tbody tr', rows => rows.map(r => [...r.children].map(c => c.textContent)));
  check(classes.length > 0 && classes.every(r => r[8].startsWith('classify (classify ')), `classification listed with its provenance (${classes.map(r => r[1])})`);
  await page.screenshot({ path: args.screenshots + '-object.png', fullPage: true });

  // Event page: the sky map and the candidates, most probable first.
  await page.goto(url + '//events/S230518h');  // a doubled slash still finds the page
  await ready('event');
  await page.waitForFunction(() => document.querySelector('#skymap')?.dataset.drawn, null, { timeout: 30000 });
  check(await page.$eval('#skymap', i => i.dataset.drawn === 'yes' && i.naturalWidth === 720), 'sky map drawn (720 px Mollweide)');
  const candidates = await page.$$eval('#candidates tbody tr', rows => rows.map(r => [r.children[1].textContent, Number(r.children[2].textContent)]));
  const expected = JSON.parse(execFileSync(args['ebs-flow'], ['query', db,
    "SELECT count(DISTINCT object_id) AS n FROM coincidences WHERE event_id = 'S230518h' AND alert_id != 0"]).toString()).n;
  check(candidates.length === expected && expected > 0, `${candidates.length} candidates listed, the repository holds ${expected}`);
  check(candidates.every((c, i) => i === 0 || candidates[i - 1][1] <= c[1]), 'candidates ranked by searched probability');
  const facts = await page.textContent('#page dl.facts');
  check(/50 % \/ 90 % areas/.test(facts) && /peak RA/.test(facts), `map summary shown (${facts.replace(/\s+/g, ' ').slice(0, 120)})`);
  // The credible regions stored with the event (MOC 2.0): listed with links, and the served JSON
  // equals what `ebs-flow skymap moc` makes of the stored map of the same notice.
  const mocRows = await page.$$eval('#mocs tbody tr', rows => rows.map(r => [...r.children].map(td => td.textContent)));
  check(mocRows.length === 2 && mocRows[0][0] === '50 %' && mocRows[1][0] === '90 %', `50 % and 90 % MOCs listed (${JSON.stringify(mocRows)})`);
  const mocHref = await page.$eval('#mocs tbody tr:nth-child(2) a', a => a.href);
  const served = await (await fetch(mocHref)).json();
  const sequence = JSON.parse(execFileSync(args['ebs-flow'], ['query', db,
    "SELECT max(sequence) AS s FROM sky_event_mocs WHERE event_id = 'S230518h'"]).toString()).s;
  const made = execFileSync(args['ebs-flow'], ['skymap', 'moc', join(runDir, 'cutouts', 'skymaps', `S230518h-${sequence}.fits`),
    '--levels', '0.9', '--out', join(runDir, 'S230518h')]).toString().trim().split('\n').map(l => JSON.parse(l));
  const expectedMoc = JSON.parse(readFileSync(made[0].json, 'utf8'));
  check(JSON.stringify(served) === JSON.stringify(expectedMoc), `served 90 % MOC (${mocHref}) equals skymap moc's (${made[0].cells} cells)`);
  check(Math.abs(Number(mocRows[1][2]) - made[0].area_deg2) < 0.01, `90 % MOC area ${mocRows[1][2]} deg² = ${made[0].area_deg2.toFixed(2)}`);
  await page.screenshot({ path: args.screenshots + '-event.png', fullPage: true });

  // Search by name prefix, then by position (sexagesimal).
  await page.goto(url + '/search?q=' + objectId.slice(0, 8));
  await ready('search');
  check(await page.$$eval('#results tbody a', as => as.map(a => a.textContent)).then(ids => ids.includes(objectId)), 'search by name prefix finds the object');
  const position = JSON.parse(execFileSync(args['ebs-flow'], ['query', db, `SELECT ra, dec FROM objects WHERE object_id = '${objectId}'`]).toString());
  const sexa = (deg, unit) => {
    const v = Math.abs(deg) / unit, h = Math.floor(v), m = Math.floor((v - h) * 60), s = ((v - h) * 60 - m) * 60;
    return `${deg < 0 ? '-' : ''}${h}:${String(m).padStart(2, '0')}:${s.toFixed(3).padStart(6, '0')}`;
  };
  await page.goto(url + '/search?q=' + encodeURIComponent(`${sexa(position.ra, 15)} ${sexa(position.dec, 1)} 2`));
  await ready('search');
  check(await page.$$eval('#results tbody a', as => as.map(a => a.textContent)).then(ids => ids.includes(objectId)),
        `search by sexagesimal position finds the object (${sexa(position.ra, 15)} ${sexa(position.dec, 1)})`);
  await page.goto(url + '/objects/ZTFnobody');
  await ready('error');
  check((await page.textContent('#error')).includes("no object 'ZTFnobody'"), 'unknown object says so');
  check(errors.filter(e => !e.includes('404')).length === 0, `no errors in the pages (${errors.join('; ')})`);
} catch (e) {
  failures.push(String(e.stack || e));
  console.log('FAIL', e.stack || e);
} finally {
  if (browser) await browser.close();
  serve.kill('SIGTERM');
  rmSync(runDir, { recursive: true, force: true });
}
process.exit(failures.length ? 1 : 0);
