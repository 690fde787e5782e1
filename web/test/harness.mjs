// Shared by the browser test and the benchmark: start `ebs-flow run WORKFLOW --http 127.0.0.1:0`,
// read the dashboard URL it prints, and open Debian's Chromium through playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export function startRun(ebsFlow, workflow, { dataDir, extraArgs = [] } = {}) {
  const runDir = mkdtempSync(join(tmpdir(), 'ebs-dashboard-run-'));
  const env = { ...process.env };
  if (dataDir) env.EBS_TEST_DATA = dataDir;
  const child = spawn(ebsFlow, ['run', workflow, '--http', '127.0.0.1:0', '--no-progress', '--run-dir', runDir, ...extraArgs],
                      { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', d => { stderr += d; });
  const exited = new Promise(resolve => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', d => {
      out += d;
      for (const line of out.split('\n')) {
        try { const j = JSON.parse(line); if (j.dashboard) return resolve(j.dashboard); } catch { /* not yet a line */ }
      }
    });
    exited.then(({ code }) => reject(new Error(`ebs-flow exited (${code}) before serving:\n${stderr}`)));
    setTimeout(() => reject(new Error('no dashboard URL within 30 s:\n' + stderr)), 30000);
  });
  return {
    url, exited, child,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      const result = await exited;
      rmSync(runDir, { recursive: true, force: true });
      return result;
    },
  };
}

// A test's checks: each is printed as ok or FAIL; `failures` decides the exit code.
export function checker() {
  const failures = [];
  const check = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures.push(what); };
  return { check, failures };
}

// A new page of `browser` (openBrowser) whose uncaught exceptions and console errors land in `errors`.
export async function newPage(browser) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  return { page, errors };
}

export async function openBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'ebs-dashboard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Waits until the page lists at least `alerts` alerts and every cutout image on it has loaded;
// returns each image's natural [width, height] (0 x 0: not decoded).
export async function loadedCutouts(page, alerts = 3) {
  await page.waitForFunction(n => document.querySelectorAll('#alerts article.alert').length >= n, alerts, { timeout: 30000 });
  await page.waitForFunction(n => {
    const imgs = [...document.querySelectorAll('#alerts img.cutout')];
    return imgs.length >= 3 * n && imgs.every(i => i.complete);
  }, alerts, { timeout: 20000 });
  return page.$$eval('#alerts img.cutout', imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight]));
}

export function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}
