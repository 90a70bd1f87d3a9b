// Real-browser test of what the workload models and pass/fail show on the dashboard and in
// the HTML report (docs/scenario.md: Thresholds, Target request rate, The generator's own
// health; docs/api.md: Timing breakdown): Debian's chromium driven by playwright-core.
//
//   node tests/browser/workload.test.mjs   (env CICADA_BIN: the binary; default ./cicada)
//
// Two dashboards against one demo target: an open-model test with too few users for its
// rate and two thresholds (one passes, one has no samples), and a plain closed-model test
// without thresholds. The page must show the verdict, the thresholds table, the generator
// warning and the "99%ile from intended start" column for the first and none of them for
// the second; the first's HTML report must show its thresholds, the generator notice, the
// intended-start column and the timing breakdown. The e2e tests check the JSON behind all
// of this; here it is the rendering that must not break. Prints one line per check and
// "N passed, N failed"; exits 1 on any failure.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
    SHOTS, work, check, runSteps, freePorts, startCicada, waitHttp, stopCicada, until, table,
    watchErrors, launchChromium, runTest
} from './harness.mjs';

const WATCHDOG_MS = 120000;
// A failed (or unmeasurable) threshold makes the exit code 3 (README, exit codes).
const EXIT_THRESHOLDS = 3;
// One user cannot start this many iterations a second against the demo target: most
// start late, and the generator, not the target, limits the test.
const RATE = 1000;
const THRESHOLDS = ['p95<5000', 'GET /nope:p50<1'];
const PHASES = ['dns', 'connect', 'tls', 'ttfb', 'transfer'];

/* ------------------------------------------------------------------------------------
 * Page helpers. */
const text = async (page, sel) => (await page.locator(sel).textContent()).trim();
const visible = (page, sel) => page.locator(sel).isVisible();

async function startFromForm(page, url, users) {
    await page.goto(url);
    await until('state "ready"', async () => await text(page, '#state') === 'ready');
    await until('the New test dialog', () => visible(page, '#swarm-dialog'));
    await page.fill('#user_count', String(users));
    await page.fill('#spawn_rate', String(users));
    await page.click('#start-swarm');
    await until('state "running"', async () => await text(page, '#state') === 'running');
}

/* The threshold rows as [verdict, threshold] once every one has been measured. */
async function thresholdRows(page, sel) {
    return until(`measured thresholds in ${sel}`, async () => {
        const t = await table(page, sel);
        const rows = t.rows.map((r) => [r.cells.status, r.cells.threshold]);
        return rows.length === THRESHOLDS.length &&
            rows[0][0] === 'passed' ? rows : null;
    });
}

/* The generator warning of an open-model test with too few users; group 1: the late. */
const LIMITED = new RegExp('^The load generator, not the target, is limiting this test: ' +
    '(?:\\d+ iterations could not start on time because every user was busy: raise the ' +
    'cap on users|its event loop fell \\d+ ms behind[^.]*|its CPU was above [^.]*)\\. ' +
    'Open model: [\\d,]+ iterations started, ([\\d,]+) late, [\\d,]+ dropped\\.$');
/* What a loaded machine may make a light test say (docs/scenario.md): not the generator. */
const MACHINE_BUSY = /^The load generator, not the target, is limiting this test: its event loop fell \d+ ms behind while the process was not running \(the machine gave its core to other work\)\.$/;

const WANT_THRESHOLDS = [['passed', THRESHOLDS[0]], ['no samples', THRESHOLDS[1]]];

/* ------------------------------------------------------------------------------------
 * The test. */
async function openModel(ctx, port, errors) {
    const page = await ctx.newPage();
    watchErrors(page, errors);
    const base = `http://127.0.0.1:${port}`;
    await runSteps([
        ['open model: 1 user from the form for ' + RATE + ' iterations/s', () =>
            startFromForm(page, base + '/', 1)],
        ['the header shows the threshold verdict "1 of 2 passed", marked failed', async () => {
            assert.ok(await visible(page, '#thresholds-box'), '#thresholds-box hidden');
            await until('the verdict', async () =>
                await text(page, '#thresholds-verdict') === '1 of 2 passed');
            assert.equal(await page.getAttribute('#thresholds-verdict', 'data-verdict'), 'failed');
        }],
        ['the thresholds table: one passed, one without samples', async () => {
            assert.ok(await visible(page, '#thresholds-table'), '#thresholds-table hidden');
            assert.deepEqual(await thresholdRows(page, '#thresholds-table'), WANT_THRESHOLDS);
            const t = await table(page, '#thresholds-table');
            assert.match(t.rows[1].cells.text, /^no samples: no request named "GET \/nope"$/);
        }],
        ['the generator warning: the generator limited the test, iterations started late', async () => {
            const warning = await until('the generator warning', async () =>
                await visible(page, '#generator-warning') &&
                (await text(page, '#generator-warning')).includes(' late, ') &&
                await text(page, '#generator-warning'));
            // The reason is the late iterations', unless a loaded machine also held the
            // loop up (that reason comes first, docs/scenario.md).
            const m = warning.match(LIMITED);
            assert.ok(m, warning);
            assert.ok(Number(m[1].replace(/,/g, '')) > 0, warning);
            return warning;
        }],
        ['the statistics show the 99%ile from the intended start beside the measured one', async () => {
            const t = await until('an Aggregated row with an intended-start percentile',
                                  async () => {
                                      const x = await table(page, '#stats-table');
                                      const agg = x.rows[x.rows.length - 1];
                                      return agg && agg.cls === 'total' &&
                                          /^\d+$/.test(agg.cells.intended_p99 || '') ? x : null;
                                  });
            const head = await page.$eval('#stats-table th[data-sortkey="intended_p99"]',
                                          (th) => th.textContent);
            assert.match(head, /99%ile from intended start \(ms\)/);
            const agg = t.rows[t.rows.length - 1];
            // The late iterations waited for the one user: far beyond one answer's time.
            assert.ok(Number(agg.cells.intended_p99) > 10,
                      `intended-start 99%ile ${agg.cells.intended_p99} ms`);
            return `Aggregated ${agg.cells.intended_p99} ms from the intended start`;
        }],
        ['Stop: state "stopped"', async () => {
            await page.click('#stop');
            await until('state "stopped"', async () => await text(page, '#state') === 'stopped');
        }],
        ['the HTML report: thresholds, the generator notice, intended start and timings', async () => {
            await page.goto(base + '/stats/report');
            await until('the report', () => visible(page, '#report-stats'));
            assert.ok(await visible(page, '#report-thresholds-section'), 'no thresholds section');
            assert.equal(await text(page, '#report-thresholds-summary'), '1 of 2 passed');
            assert.deepEqual(await thresholdRows(page, '#report-thresholds'), WANT_THRESHOLDS);
            assert.ok(await visible(page, '#report-generator'), 'no generator notice');
            const notice = await text(page, '#report-generator');
            const m = notice.replace('limited this test', 'is limiting this test').match(LIMITED);
            assert.ok(m && Number(m[1].replace(/,/g, '')) > 0, notice);
            const stats = await table(page, '#report-stats');
            assert.ok(stats.keys.includes('intended_p99'), `report columns: ${stats.keys}`);
            assert.match(stats.rows[stats.rows.length - 1].cells.intended_p99, /^\d+$/);
            assert.ok(await visible(page, '#report-timings-section'), 'no timings section');
            const tm = await table(page, '#report-timings');
            const agg = tm.rows[tm.rows.length - 1];
            assert.equal(agg.cells.name, 'Aggregated');
            for (const k of PHASES)
                assert.match(agg.cells[k], /^\d+\.\d{3}$/, `Aggregated ${k} is "${agg.cells[k]}"`);
            const sum = PHASES.reduce((s, k) => s + Number(agg.cells[k]), 0);
            const rt = Number(agg.cells.response_time);
            assert.ok(Math.abs(sum - rt) <= 0.006, `phases ${sum.toFixed(3)} ms, average ${rt} ms`);
            fs.mkdirSync(SHOTS, {recursive: true});
            await page.screenshot({path: path.join(SHOTS, 'report-workload.png'), fullPage: true});
        }]
    ]);
    await page.close();
}

async function closedModel(ctx, port, errors) {
    const page = await ctx.newPage();
    watchErrors(page, errors);
    await runSteps([
        ['closed model, no thresholds: 2 users from the form', () =>
            startFromForm(page, `http://127.0.0.1:${port}/`, 2)],
        ['no verdict, no thresholds table, no generator warning, no intended-start column', async () => {
            await until('an Aggregated row', async () => {
                const x = await table(page, '#stats-table');
                return x.rows.length && x.rows[x.rows.length - 1].cls === 'total';
            });
            // A few more polls: whatever they render has been rendered.
            await new Promise((r) => setTimeout(r, 2500));
            assert.equal(await visible(page, '#thresholds-box'), false, '#thresholds-box shown');
            assert.equal(await visible(page, '#thresholds-table'), false, '#thresholds-table shown');
            if (await visible(page, '#generator-warning'))
                assert.match(await text(page, '#generator-warning'), MACHINE_BUSY);
            const t = await table(page, '#stats-table');
            assert.ok(!t.keys.includes('intended_p99'), `columns: ${t.keys}`);
        }],
        ['Stop: state "stopped"', async () => {
            await page.click('#stop');
            await until('state "stopped"', async () => await text(page, '#state') === 'stopped');
        }]
    ]);
    await page.close();
}

async function main() {
    const errors = [];
    await runTest(WATCHDOG_MS, async () => {
        const [demoPort, openPort, closedPort] = await freePorts(3);
        const demo = startCicada('demo-target', ['--demo-target', `127.0.0.1:${demoPort}`]);
        const scenario = path.join(work, 'visit.json');
        fs.writeFileSync(scenario, JSON.stringify({
            host: `http://127.0.0.1:${demoPort}`,
            users: [{name: 'Visitor', wait_time: 0.05,
                     tasks: [{request: 'GET /api/products'}]}]
        }, null, 2));
        const open = startCicada('open-model', [
            '-f', scenario, '--arrival-rate', String(RATE), '--web-host', '127.0.0.1',
            '-P', String(openPort), ...THRESHOLDS.flatMap((t) => ['--threshold', t])]);
        const closed = startCicada('closed-model', [
            '-f', scenario, '--web-host', '127.0.0.1', '-P', String(closedPort)]);
        await waitHttp(demo, demoPort, '/api/products');
        await waitHttp(open, openPort, '/stats/requests');
        await waitHttp(closed, closedPort, '/stats/requests');

        const browserCtx = await launchChromium();
        await openModel(browserCtx, openPort, errors);
        await closedModel(browserCtx, closedPort, errors);
        await check('no JavaScript errors on the pages', () => assert.deepEqual(errors, []));
        await browserCtx.close();

        // A threshold without samples decides the exit code, also of a dashboard.
        await check(`open-model dashboard exits with code ${EXIT_THRESHOLDS} on SIGINT`,
                    () => stopCicada(open, EXIT_THRESHOLDS));
        await check('closed-model dashboard exits with code 0 on SIGINT', () => stopCicada(closed));
        await check('demo target exits with code 0 on SIGINT', () => stopCicada(demo));
    });
}

await main();
