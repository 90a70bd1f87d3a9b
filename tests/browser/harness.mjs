// What the browser tests share: the cicada processes they start and stop, the check
// reporting ("ok N - ..." lines), the watchdog and the frame of main() (runTest), polling,
// collecting page errors, and reading the dashboard's text, tables and charts through
// page.$eval/page.evaluate (the same calls in playwright-core and puppeteer-core), with the
// checks of a running demo test both dashboard tests make; and the Chromium launch of the
// two Chromium tests (playwright-core, loaded only by them).
//
// Importing it creates the temporary work directory (`work`, with `home` inside) and
// installs the handlers that SIGKILL the cicada processes started here when the test
// process exits or is interrupted; nothing else is ever signalled.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
// Default: ./cicada of this checkout (wherever the test is started from).
export const CICADA = process.env.CICADA_BIN ? path.resolve(process.env.CICADA_BIN) :
    path.join(REPO, 'cicada');
export const DEMO_SCENARIO = path.join(REPO, 'examples', 'demo.json');
export const SHOTS = path.join(REPO, 'build', 'screenshots');

// Generous: this machine has 2 noisy cores and ASan builds are 2-3 times slower.
export const WAIT_MS = 20000;
export const EXIT_MS = 20000;
export const POLL_MS = 100;

// Every request name examples/demo.json can produce.
export const DEMO_NAMES = new Set(['/api/products', '/api/products/[id]', '/api/search?q=lamp',
                            '/api/login', '/api/logout', '/api/cart', '/api/checkout']);
export const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cicada-browser-'));
export const home = path.join(work, 'home');
fs.mkdirSync(home);

/* ------------------------------------------------------------------------------------
 * Reporting. */
export let passed = 0;
export let failed = 0;
let checkNo = 0;

export function report(ok, name, err) {
    checkNo++;
    if (ok) {
        passed++;
        console.log(`ok ${checkNo} - ${name}`);
    } else {
        failed++;
        console.log(`not ok ${checkNo} - ${name}`);
        const text = err && err.stack ? err.stack : String(err);
        console.log(text.split('\n').map((l) => '    # ' + l).join('\n'));
    }
}

/* Runs one check; returns true if it passed. */
export async function check(name, fn) {
    try {
        const detail = await fn();
        report(true, detail ? `${name} (${detail})` : name);
        return true;
    } catch (err) {
        report(false, name, err);
        return false;
    }
}

export function skip(names) {
    for (const n of names) {
        checkNo++;
        failed++;
        console.log(`not ok ${checkNo} - ${n} # not run: an earlier check failed`);
    }
}

/* ------------------------------------------------------------------------------------
 * Processes. */
export const procs = [];

/* Ports nothing listens on right now, all different (held open together while chosen). */
export async function freePorts(n) {
    const servers = [];
    for (let i = 0; i < n; i++) {
        const s = net.createServer();
        await new Promise((res, rej) => {
            s.once('error', rej);
            s.listen(0, '127.0.0.1', res);
        });
        servers.push(s);
    }
    const ports = servers.map((s) => s.address().port);
    await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
    return ports;
}

function cicadaEnv() {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('LOCUST_') && !k.startsWith('CICADA_'))
            env[k] = v;
    }
    env.HOME = home;
    return env;
}

/* Starts cicada in the work directory; output goes to files named after `name`. */
export function startCicada(name, args) {
    const out = path.join(work, `${name}.stdout`);
    const err = path.join(work, `${name}.stderr`);
    const outFd = fs.openSync(out, 'w');
    const errFd = fs.openSync(err, 'w');
    const child = spawn(CICADA, args, {cwd: work, env: cicadaEnv(),
                                       stdio: ['ignore', outFd, errFd]});
    fs.closeSync(outFd);
    fs.closeSync(errFd);
    const p = {name, args, child, out, err, exit: null};
    p.exited = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
            p.exit = {code, signal};
            resolve(p.exit);
        });
        child.on('error', (e) => {
            p.exit = {code: null, signal: null, error: e};
            resolve(p.exit);
        });
    });
    procs.push(p);
    return p;
}

export function tail(file, lines = 25) {
    try {
        return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
        return '(no output)';
    }
}

/* Resolves when http://127.0.0.1:port/urlPath answers at all; fails if p exits first. */
export async function waitHttp(p, port, urlPath) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
        if (p.exit)
            throw new Error(`${p.name} exited early (${JSON.stringify(p.exit)}):\n${tail(p.err)}`);
        try {
            await fetch(`http://127.0.0.1:${port}${urlPath}`, {signal: AbortSignal.timeout(2000)});
            return;
        } catch {
            /* not listening yet */
        }
        if (Date.now() > deadline)
            throw new Error(`${p.name} did not answer on port ${port} within ${WAIT_MS} ms`);
        await new Promise((r) => setTimeout(r, POLL_MS));
    }
}

/* SIGINT, then requires exit code `want` and no sanitizer report on stderr. */
export async function stopCicada(p, want = 0) {
    if (!p.exit)
        p.child.kill('SIGINT');
    let timer;
    const timeout = new Promise((r) => { timer = setTimeout(r, EXIT_MS, 'timeout'); });
    const first = await Promise.race([p.exited, timeout]);
    clearTimeout(timer);
    if (first === 'timeout') {
        p.child.kill('SIGKILL');
        await p.exited;
        throw new Error(`${p.name} did not exit within ${EXIT_MS} ms of SIGINT:\n${tail(p.err)}`);
    }
    const {code, signal} = p.exit;
    assert.ok(code === want && signal === null,
              `${p.name}: expected exit code ${want}, got code ${code} signal ${signal}:\n${tail(p.err, 40)}`);
    const stderr = fs.readFileSync(p.err, 'utf8');
    const bad = stderr.split('\n').filter((l) =>
        /ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:/.test(l));
    assert.deepEqual(bad, [], `${p.name}: sanitizer report on stderr`);
    return `exit code ${want}`;
}

/* Last resort (failure paths, watchdog, exit): SIGKILL whatever is still running. */
export function killAll() {
    for (const p of procs) {
        if (!p.exit) {
            try {
                p.child.kill('SIGKILL');
            } catch {
                /* already gone */
            }
        }
    }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
        killAll();
        process.exit(1);
    });
}

/* ------------------------------------------------------------------------------------
 * Page helpers. */

/* Polls fn (run in the test) until it returns a truthy value; returns that value. */
export async function until(what, fn, timeout = WAIT_MS) {
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
        try {
            const v = await fn();
            if (v)
                return v;
            last = v;
        } catch (e) {
            if (e.fatal)
                throw e;
            last = e;
        }
        if (Date.now() > deadline) {
            const seen = last instanceof Error ? last.message : JSON.stringify(last);
            throw new Error(`timed out after ${timeout} ms waiting for ${what} (last seen: ${seen})`);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
    }
}

/* Collects the page's JavaScript errors and console errors into `errors`. */
export function watchErrors(page, errors) {
    page.on('pageerror', (e) => errors.push(`page error: ${e.message || e}`));
    page.on('console', (m) => {
        if (m.type() === 'error')
            errors.push(`console error: ${m.text()}`);
    });
}

/* Waits until the element's text, trimmed, is exactly `want`. */
export async function untilText(page, sel, want, timeout = WAIT_MS) {
    let seen;
    await until(`${sel} to show "${want}"`, async () => {
        seen = (await page.$eval(sel, (el) => el.textContent)).trim();
        return seen === want || null;
    }, timeout).catch((e) => {
        throw new Error(`${sel}: expected "${want}", still "${seen}" (${e.message})`);
    });
}

/* The header's sort keys and the rows of a table: {keys, rows: [{cls, cells: {sortkey: text}}]}. */
export function table(page, sel) {
    return page.$eval(sel, (t) => {
        const keys = [...t.tHead.rows[0].cells].map((th) => th.getAttribute('data-sortkey'));
        return {keys, rows: [...t.tBodies[0].rows].map((tr) => ({
            cls: tr.className,
            cells: Object.fromEntries([...tr.cells].map((td, i) => [keys[i], td.textContent]))
        }))};
    });
}

/* The rows of a table: [{cls, cells: {sortkey: text}}]. */
export async function tableRows(page, sel) {
    return (await table(page, sel)).rows;
}

export async function aggregatedRequests(page) {
    const rows = await tableRows(page, '#stats-table');
    const last = rows[rows.length - 1];
    if (!last || last.cls !== 'total' || last.cells.name !== 'Aggregated')
        return null;
    return Number(last.cells.num_requests);
}

/* What a chart holds, read through Chart.js: per dataset its label and non-null points. */
export function chartData(page, canvasId) {
    return page.evaluate((id) => {
        const chart = window.Chart.getChart(document.getElementById(id));
        if (!chart)
            return null;
        return chart.data.datasets.map((d) => ({
            label: d.label,
            points: d.data.filter((pt) => pt && typeof pt.y === 'number').length,
            firstX: d.data.length ? d.data[0].x : null
        }));
    }, canvasId);
}

/* A demo test (examples/demo.json) started with `users` users: state "running", that many
 * users, Statistics rows only for the demo's requests (/api/products among them) above an
 * Aggregated row whose # Requests grows. Returns the check's detail. */
export async function checkDemoRunning(page, users) {
    await untilText(page, '#state', 'running');
    await untilText(page, '#user-count', String(users));
    const rows = await until('request rows in #stats-table', async () => {
        const r = await tableRows(page, '#stats-table');
        return r.length >= 3 ? r : null;
    });
    const agg = rows[rows.length - 1];
    assert.equal(agg.cls, 'total', 'last row has class "total"');
    assert.equal(agg.cells.name, 'Aggregated');
    const names = rows.slice(0, -1).map((r) => r.cells.name);
    for (const n of names)
        assert.ok(DEMO_NAMES.has(n), `unexpected request name in the table: ${n}`);
    assert.ok(names.includes('/api/products'), `no /api/products row in ${names}`);
    const first = Number(agg.cells.num_requests);
    assert.ok(first > 0, `Aggregated # Requests is ${agg.cells.num_requests}`);
    const later = await until('Aggregated # Requests to grow past ' + first, async () => {
        const n = await aggregatedRequests(page);
        return n > first ? n : null;
    });
    return `${names.length} request rows, Aggregated ${first} -> ${later}`;
}

/* Waits until Chart.js holds >= 3 points in the RPS chart (dataset "RPS") and >= 2 datasets
 * in the per-name chart; returns {rps, per} as chartData gives them. */
export async function untilChartPoints(page) {
    const got = await until('chart data', async () => {
        const rps = await chartData(page, 'chart-rps');
        const per = await chartData(page, 'chart-per-name');
        return rps && per && rps[0].points >= 3 && per.length >= 2 ? {rps, per} : null;
    });
    assert.equal(got.rps[0].label, 'RPS');
    return got;
}

/* The browser contexts launchChromium opened and nothing has closed yet (runTest closes them). */
const chromiums = new Set();

/* Debian's Chromium, headless with a fresh profile in the work directory, through
 * playwright-core (imported here only when called); `options` adds launch options. */
export async function launchChromium(options = {}) {
    const { chromium } = await import('playwright-core');
    // The fresh --user-data-dir: Playwright passes it itself and refuses it in args.
    const profile = fs.mkdtempSync(path.join(work, 'chromium-'));
    const ctx = await chromium.launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
               '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
        viewport: {width: 1280, height: 860},
        timeout: WAIT_MS,
        ...options
    });
    ctx.setDefaultTimeout(WAIT_MS);
    chromiums.add(ctx);
    ctx.on('close', () => chromiums.delete(ctx));
    return ctx;
}

/* Runs [name, fn] steps in order; after the first failure the rest are reported as not run. */
export async function runSteps(steps) {
    for (let i = 0; i < steps.length; i++) {
        if (!await check(...steps[i])) {
            skip(steps.slice(i + 1).map((s) => s[0]));
            return false;
        }
    }
    return true;
}

/* The last lines of a test: where cicada's output is kept if anything failed (else the
 * work directory is removed), the binary and time, "N passed, N failed"; sets the exit code. */
export function finish(t0) {
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (failed) {
        console.log(`# cicada output kept in ${work}`);
    } else {
        fs.rmSync(work, {recursive: true, force: true});
    }
    console.log(`# ${CICADA}, ${secs} s`);
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed || !passed ? 1 : 0;
}

/* The frame of a test's main(): a watchdog that after `watchdogMs` calls onWatchdog (to kill
 * a browser), SIGKILLs the cicada processes and exits 1; then body() (after checking that
 * CICADA exists), an exception from it reported as a failed "test setup"; then cleanup()
 * (to close a browser launchChromium did not start), closing what launchChromium started
 * and is still open, SIGKILL for whatever cicada process still runs, and finish(). */
export async function runTest(watchdogMs, body, {onWatchdog = () => {}, cleanup = async () => {}} = {}) {
    const watchdog = setTimeout(() => {
        console.log(`not ok - the whole test took over ${watchdogMs} ms; killing what it started`);
        onWatchdog();
        killAll();
        process.exit(1);
    }, watchdogMs);
    const t0 = Date.now();
    try {
        if (!fs.existsSync(CICADA))
            throw new Error(`CICADA_BIN ${CICADA} does not exist (build it with make)`);
        await body();
    } catch (err) {
        report(false, 'test setup', err);
    } finally {
        await cleanup();
        for (const ctx of chromiums)
            await ctx.close().catch(() => {});
        killAll();
        await Promise.all(procs.map((p) => p.exited));
        clearTimeout(watchdog);
    }
    finish(t0);
}
