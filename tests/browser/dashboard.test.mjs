// Real-browser test of cicada's web dashboard: Debian's chromium driven by playwright-core.
//
//   node tests/browser/dashboard.test.mjs   (env CICADA_BIN: the binary; default ./cicada)
//
// Starts its own demo target and dashboards on free loopback ports, drives the page as a
// person would (start, watch, edit, download, reload, sort, reset, read the logs, stop),
// checks that scenario strings reach the page as text, saves two screenshots in
// build/screenshots/, and stops every process it started with SIGINT, requiring exit code 0
// (an ASan build's leak report makes it non-zero; the dashboards run with
// --exit-code-on-error 0 because the demo scenario fails some requests on purpose). Prints
// one line per check and "N passed, N failed"; exits 1 on any failure.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
    DEMO_NAMES, DEMO_SCENARIO, SHOTS, WAIT_MS, EXIT_MS, work, check, runSteps, freePorts,
    startCicada, tail, waitHttp, stopCicada, until, untilText, tableRows, aggregatedRequests,
    chartData, watchErrors, checkDemoRunning, untilChartPoints, launchChromium, runTest
} from './harness.mjs';

const WATCHDOG_MS = 150000;

const CSV_HEADER = 'Type,Name,Request Count,Failure Count,Median Response Time,' +
    'Average Response Time,Min Response Time,Max Response Time,Average Content Size,' +
    'Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%';
const EVIL_NAME = '<img src=x onerror=window.__pwned=1>';
const EVIL_TASK = '<b>bold</b>';

const text = (page, sel) => page.locator(sel).textContent();

async function showTab(page, name) {
    await page.click(`[data-tab="${name}"]`);
    await until(`tab ${name} to be shown`, () =>
        page.$eval(`#tab-${name}`, (el) => !el.hidden));
}

/* ------------------------------------------------------------------------------------
 * The test. */
async function mainScenario(ctx, webPort, demoPort, errors) {
    const page = await ctx.newPage();
    watchErrors(page, errors);
    const base = `http://127.0.0.1:${webPort}/`;
    let rpsBefore = null;

    const steps = [
        ['page opens in state "ready" with the New test form; start 20 users at 10/s', async () => {
            await page.goto(base);
            await untilText(page, '#state', 'ready');
            await until('the New test dialog', () => page.locator('#swarm-dialog').isVisible());
            assert.equal((await text(page, '#swarm-title')).trim(), 'Start new load test');
            assert.ok(await page.locator('#start-swarm').isVisible(), '#start-swarm visible');
            const host = `http://127.0.0.1:${demoPort}`;
            assert.equal((await text(page, '#host')).trim(), host, 'the header shows the -H host');
            assert.equal(await page.inputValue('#host-input'), host, 'the form proposes the -H host');
            await page.fill('#user_count', '20');
            await page.fill('#spawn_rate', '10');
            await page.click('#start-swarm');
            await until('the dialog to close', async () =>
                !(await page.locator('#swarm-dialog').isVisible()));
        }],
        ['state "running" with 20 users; Statistics rows for the demo requests; Aggregated grows', () =>
            checkDemoRunning(page, 20)],
        ['Charts tab: RPS chart has >= 3 points, per-name chart >= 2 datasets', async () => {
            await showTab(page, 'charts');
            const got = await untilChartPoints(page);
            return `RPS ${got.rps[0].points} points, ${got.per.length} names`;
        }],
        ['Timings tab: a row per name, phases adding up to the response time; the picker shows percentiles', async () => {
            await showTab(page, 'timings');
            const rows = await until('rows in #timings-table', async () => {
                const r = await tableRows(page, '#timings-table');
                return r.length >= 3 && r[r.length - 1].cls === 'total' ? r : null;
            });
            const agg = rows[rows.length - 1];
            assert.equal(agg.cells.name, 'Aggregated');
            for (const r of rows.slice(0, -1))
                assert.ok(DEMO_NAMES.has(r.cells.name), `unexpected name in #timings-table: ${r.cells.name}`);
            const phases = ['dns', 'connect', 'tls', 'ttfb', 'transfer'];
            for (const k of phases)
                assert.match(agg.cells[k], /^\d+\.\d{3}$/, `Aggregated ${k} is "${agg.cells[k]}"`);
            assert.ok(Number(agg.cells.count) > 0, `Aggregated # Requests is ${agg.cells.count}`);
            const sum = phases.reduce((s, k) => s + Number(agg.cells[k]), 0);
            const rt = Number(agg.cells.response_time);
            assert.ok(Math.abs(sum - rt) <= 0.006,
                      `the phases add up to ${sum.toFixed(3)} ms, the average response time is ${rt} ms`);
            fs.mkdirSync(SHOTS, {recursive: true});
            await page.screenshot({path: path.join(SHOTS, 'dashboard-timings.png'), fullPage: true});
            await page.selectOption('#timings-stat', 'p95');
            const p95 = await until('95th percentiles in #timings-table', async () => {
                const r = await tableRows(page, '#timings-table');
                const last = r[r.length - 1];
                return last && /^\d+$/.test(last.cells.response_time) ? last : null;
            });
            await page.selectOption('#timings-stat', 'avg');
            return `${rows.length - 1} names; Aggregated ${phases.map((k) => agg.cells[k]).join(' + ')} ` +
                `= ${rt} ms; 95%: ttfb ${p95.cells.ttfb} ms, response time ${p95.cells.response_time} ms`;
        }],
        ['Edit the running test to 5 users', async () => {
            await page.click('#edit-test');
            await until('the Edit dialog', () => page.locator('#update-swarm').isVisible());
            assert.equal((await text(page, '#swarm-title')).trim(), 'Edit running load test');
            assert.equal(await page.inputValue('#user_count'), '20');
            await page.fill('#user_count', '5');
            await page.click('#update-swarm');
            await untilText(page, '#user-count', '5');
            assert.equal(await page.locator('#swarm-dialog').isVisible(), false,
                         'the dialog closes after the update');
        }],
        ['Download Data: requests CSV has Locust\'s header and an Aggregated line', async () => {
            await showTab(page, 'download');
            const [download] = await Promise.all([
                page.waitForEvent('download', {timeout: WAIT_MS}),
                page.click('#download-stats-csv')
            ]);
            assert.match(download.suggestedFilename(), /^requests_\d+(\.\d+)?\.csv$/);
            const file = await download.path();
            const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
            assert.equal(lines[0], CSV_HEADER);
            assert.ok(lines.some((l) => l.startsWith(',Aggregated,')),
                      `no Aggregated line in:\n${lines.join('\n')}`);
            return download.suggestedFilename();
        }],
        ['Reload: charts are seeded again from the server\'s history', async () => {
            rpsBefore = (await chartData(page, 'chart-rps'))[0];
            await page.reload();
            const after = await until('chart points after the reload', async () => {
                const d = await chartData(page, 'chart-rps');
                return d && d[0].points > 0 ? d[0] : null;
            });
            assert.ok(after.points >= rpsBefore.points,
                      `RPS points: ${rpsBefore.points} before the reload, ${after.points} after`);
            assert.equal(after.firstX, rpsBefore.firstX, 'the first point is the same as before');
            await untilText(page, '#state', 'running');
            return `${rpsBefore.points} points before, ${after.points} after`;
        }],
        ['screenshots of the Statistics and Charts tabs', async () => {
            fs.mkdirSync(SHOTS, {recursive: true});
            await showTab(page, 'stats');
            await until('statistics rows', async () => (await aggregatedRequests(page)) > 0);
            const stats = path.join(SHOTS, 'dashboard-stats.png');
            await page.screenshot({path: stats, fullPage: true});
            await showTab(page, 'charts');
            // Chart.js sizes a canvas when its panel becomes visible.
            await until('charts laid out', () => page.evaluate(() =>
                ['chart-rps', 'chart-response-times', 'chart-users', 'chart-per-name'].every((id) => {
                    const c = window.Chart.getChart(document.getElementById(id));
                    return c && c.width > 0 && c.height > 0;
                })));
            const charts = path.join(SHOTS, 'dashboard-charts.png');
            await page.screenshot({path: charts, fullPage: true});
            for (const f of [stats, charts])
                assert.ok(fs.statSync(f).size > 1000, `${f} is too small`);
            return `${path.relative(process.cwd(), stats)}, ${path.relative(process.cwd(), charts)}`;
        }],
        ['Statistics: a header click sorts (numbers biggest first, again: reversed), Aggregated stays last', async () => {
            await showTab(page, 'stats');
            const sorted = async (desc) => {
                const rows = await tableRows(page, '#stats-table');
                const agg = rows[rows.length - 1];
                if (!agg || agg.cells.name !== 'Aggregated' || rows.length < 4)
                    return null;
                const n = rows.slice(0, -1).map((r) => Number(r.cells.num_requests));
                const want = [...n].sort((a, b) => desc ? b - a : a - b);
                return n.every((v, i) => v === want[i]) ? n : null;
            };
            await page.click('#stats-table th[data-sortkey="num_requests"]');
            const down = await until('rows by # Requests, biggest first', () => sorted(true));
            assert.equal(await page.getAttribute('#stats-table th[data-sortkey="num_requests"]',
                                                 'aria-sort'), 'descending');
            await page.click('#stats-table th[data-sortkey="num_requests"]');
            const up = await until('rows by # Requests, smallest first', () => sorted(false));
            await page.click('#stats-table th[data-sortkey="name"]');
            const names = await until('rows by name', async () => {
                const rows = await tableRows(page, '#stats-table');
                const n = rows.slice(0, -1).map((r) => r.cells.name);
                const last = rows[rows.length - 1];
                return last && last.cells.name === 'Aggregated' &&
                    n.every((v, i) => !i || n[i - 1].localeCompare(v) <= 0) ? n : null;
            });
            return `${down.join(' ')} / ${up.join(' ')}; ${names.length} names A-Z`;
        }],
        ['Reset stats: the counters start again from zero, the rows stay', async () => {
            const before = await aggregatedRequests(page);
            const rowsBefore = (await tableRows(page, '#stats-table')).length;
            await page.click('#reset-stats');
            const after = await until('Aggregated # Requests to drop', async () => {
                const n = await aggregatedRequests(page);
                return n !== null && n < before ? {n} : null;
            });
            assert.ok((await tableRows(page, '#stats-table')).length >= rowsBefore - 1,
                      'rows are kept after a reset');
            await untilText(page, '#state', 'running');
            return `Aggregated ${before} -> ${after.n}`;
        }],
        ['Logs tab: the process\'s log lines', async () => {
            await showTab(page, 'logs');
            const lines = await until('log lines', async () => {
                const t = await text(page, '#logs');
                return /Starting web interface at http:\/\/127\.0\.0\.1:/.test(t) &&
                    /Ramping to 20 users/.test(t) ? page.locator('#logs .log-line').count() : null;
            });
            await showTab(page, 'stats');
            return `${lines} lines`;
        }],
        ['Stop: state "stopped"', async () => {
            await page.click('#stop');
            await untilText(page, '#state', 'stopped');
        }]
    ];

    await runSteps(steps);
    await page.close();
}

/* Signs that markup from the scenario became elements: fails at once if any shows. */
async function assertNoInjection(page) {
    const dom = await page.evaluate(() => ({
        pwned: typeof window.__pwned,
        imgX: [...document.querySelectorAll('img')].filter((i) => i.getAttribute('src') === 'x').length,
        bold: document.querySelectorAll('main b').length
    }));
    const want = {pwned: 'undefined', imgX: 0, bold: 0};
    if (JSON.stringify(dom) !== JSON.stringify(want)) {
        const e = new Error(`markup from the scenario became elements: expected ${JSON.stringify(want)}` +
                            ` (window.__pwned, <img src="x"> count, <b> in main), got ${JSON.stringify(dom)}`);
        e.fatal = true;
        throw e;
    }
}

async function escapingScenario(ctx, webPort, errors) {
    const page = await ctx.newPage();
    watchErrors(page, errors);
    await check('markup in request and task names stays text (Statistics, Failures, Current ratio)', async () => {
        await page.goto(`http://127.0.0.1:${webPort}/`);
        await untilText(page, '#state', 'ready');
        await page.fill('#user_count', '2');
        await page.fill('#spawn_rate', '2');
        await page.fill('#run_time', '60s');
        await page.click('#start-swarm');
        await untilText(page, '#state', 'running');

        await showTab(page, 'stats');
        const rows = await until('the escaped name in #stats-table', async () => {
            await assertNoInjection(page);
            const r = await tableRows(page, '#stats-table');
            return r.some((x) => x.cells.name === EVIL_NAME) ? r : null;
        });
        const n = Number(rows[rows.length - 1].cells.num_requests);
        // One more poll: anything an injected element would run has had time to.
        await until('another statistics poll', async () => {
            await assertNoInjection(page);
            return (await aggregatedRequests(page)) > n;
        });

        await showTab(page, 'failures');
        const failures = await until('the escaped name in #failures-table', async () => {
            await assertNoInjection(page);
            const r = await tableRows(page, '#failures-table');
            return r.find((x) => x.cells.name === EVIL_NAME) || null;
        });
        assert.ok(failures.cells.error.includes(EVIL_NAME),
                  `the error text should hold the name as text: ${failures.cells.error}`);

        await showTab(page, 'ratio');
        const tasks = await until('the task name in the ratio tree', async () => {
            await assertNoInjection(page);
            const t = await page.$$eval('#ratio .task-name', (els) => els.map((e) => e.textContent));
            return t.includes(EVIL_TASK) ? t : null;
        });
        await assertNoInjection(page);
        return `${tasks.length} ratio entries`;
    });
    await page.close();
}

/* A master with two workers: the Workers tab lists them live and the users split. */
async function distributedScenario(ctx, webPort, errors) {
    const page = await ctx.newPage();
    watchErrors(page, errors);
    const steps = [
        ['master: the Workers box and tab show 2 connected workers', async () => {
            await page.goto(`http://127.0.0.1:${webPort}/`);
            await untilText(page, '#state', 'ready');
            assert.ok(await page.locator('#workers-box').isVisible(), '#workers-box visible');
            await untilText(page, '#worker-count', '2');
            await page.keyboard.press('Escape');
            await page.evaluate(() => document.getElementById('swarm-dialog').close &&
                                document.getElementById('swarm-dialog').close());
            await showTab(page, 'workers');
            const rows = await until('two worker rows', async () => {
                const r = await tableRows(page, '#workers-table');
                return r.length === 2 && r.every((x) => x.cells.state === 'ready') ? r : null;
            });
            for (const r of rows) {
                assert.match(r.cells.id, /_\d+_[0-9a-f]{8}$/, 'worker id host_pid_random');
                assert.ok(r.cells.host.length > 0, 'worker host shown');
                assert.ok(Number(r.cells.heartbeat_age) < 5, `heartbeat age ${r.cells.heartbeat_age}`);
            }
            return rows.map((r) => r.cells.id).join(', ');
        }],
        ['master: 6 users from the form run as 3 + 3 on the workers', async () => {
            await page.evaluate(() => document.getElementById('new-test') &&
                                document.getElementById('new-test').click());
            await until('the New test dialog', () => page.locator('#swarm-dialog').isVisible());
            await page.fill('#user_count', '6');
            await page.fill('#spawn_rate', '6');
            await page.click('#start-swarm');
            await untilText(page, '#state', 'running');
            await untilText(page, '#user-count', '6');
            await showTab(page, 'workers');
            const rows = await until('users on both workers', async () => {
                const r = await tableRows(page, '#workers-table');
                return r.length === 2 && r.every((x) => x.cells.user_count === '3' &&
                                                 x.cells.state === 'running') ? r : null;
            });
            fs.mkdirSync(SHOTS, {recursive: true});
            const shot = path.join(SHOTS, 'dashboard-workers.png');
            await page.screenshot({path: shot, fullPage: true});
            return `${rows.length} workers running 3 users each; ${path.relative(process.cwd(), shot)}`;
        }],
        ['master: the Statistics tab counts the workers\' requests; Stop', async () => {
            await showTab(page, 'stats');
            await until('requests from the workers', async () => (await aggregatedRequests(page)) > 10);
            await page.click('#stop');
            await untilText(page, '#state', 'stopped');
            await showTab(page, 'workers');
            await until('workers back to ready', async () => {
                const r = await tableRows(page, '#workers-table');
                return r.length === 2 && r.every((x) => x.cells.state === 'ready' &&
                                                 x.cells.user_count === '0');
            });
        }],
        ['master: a worker above 90% CPU is flagged on the Workers tab', async () => {
            // No load makes a worker that hot on demand: the poll's answer is edited.
            let hot = null;
            await page.route('**/stats/requests', async (route) => {
                const resp = await route.fetch();
                const doc = await resp.json();
                if (doc.workers && doc.workers.length) {
                    doc.workers[0].cpu_usage = 97.5;
                    hot = doc.workers[0].id;
                }
                await route.fulfill({response: resp, json: doc});
            });
            await showTab(page, 'workers');
            const box = page.locator('#cpu-warning');
            const text = await until('the CPU warning', async () =>
                (await box.isVisible()) ? box.textContent() : null);
            assert.ok(hot && text.includes(hot), `the warning names ${hot}: ${text}`);
            assert.match(text, /above 90% CPU: the load generator, not the target/);
            const cells = await page.$eval('#workers-table', (table) => {
                const keys = [...table.tHead.rows[0].cells].map((th) =>
                    th.getAttribute('data-sortkey'));
                const i = keys.indexOf('cpu_usage');
                return [...table.tBodies[0].rows].map((tr) => ({
                    id: tr.cells[keys.indexOf('id')].textContent,
                    text: tr.cells[i].textContent, cls: tr.cells[i].className}));
            });
            const flagged = cells.filter((c) => /\bbad\b/.test(c.cls)).map((c) => c.id);
            assert.deepEqual(flagged, [hot], JSON.stringify(cells));
            assert.ok(cells.some((c) => c.text === '97.5'), JSON.stringify(cells));
            // Back under the threshold: the warning goes.
            await page.unroute('**/stats/requests');
            await until('no CPU warning', async () => !(await box.isVisible()));
            return `${hot} flagged`;
        }]
    ];
    await runSteps(steps);
    await page.close();
}

async function main() {
    const errors = [];
    await runTest(WATCHDOG_MS, async () => {
        const [demoPort, webPort, evilPort, masterWebPort, masterPort] = await freePorts(5);
        const demo = startCicada('demo-target', ['--demo-target', `127.0.0.1:${demoPort}`]);
        const web = startCicada('dashboard', [
            '-f', DEMO_SCENARIO, '-H', `http://127.0.0.1:${demoPort}`,
            '--web-host', '127.0.0.1', '-P', String(webPort), '--exit-code-on-error', '0']);

        const evilScenario = path.join(work, 'evil.json');
        fs.writeFileSync(evilScenario, JSON.stringify({
            host: `http://127.0.0.1:${demoPort}`,
            users: [{
                name: 'Evil',
                wait_time: {between: [0.1, 0.3]},
                tasks: [
                    {name: EVIL_TASK, weight: 1,
                     request: {url: '/api/products', name: EVIL_NAME}},
                    {name: 'gone', weight: 1,
                     request: {url: '/api/products/999', name: EVIL_NAME}}
                ]
            }]
        }, null, 2));
        const evil = startCicada('dashboard-escaping', [
            '-f', evilScenario, '--web-host', '127.0.0.1', '-P', String(evilPort),
            '--exit-code-on-error', '0']);

        const master = startCicada('master', [
            '-f', DEMO_SCENARIO, '-H', `http://127.0.0.1:${demoPort}`, '--master',
            '--master-bind-host', '127.0.0.1', '--master-bind-port', String(masterPort),
            '--web-host', '127.0.0.1', '-P', String(masterWebPort), '--exit-code-on-error', '0']);
        const workers = [1, 2].map((n) => startCicada(`worker${n}`, [
            '--worker', '--master-port', String(masterPort)]));

        await waitHttp(demo, demoPort, '/api/products');
        await waitHttp(web, webPort, '/stats/requests');
        await waitHttp(evil, evilPort, '/stats/requests');

        const browserCtx = await launchChromium({acceptDownloads: true});

        await mainScenario(browserCtx, webPort, demoPort, errors);
        await escapingScenario(browserCtx, evilPort, errors);
        await waitHttp(master, masterWebPort, '/stats/requests');
        await distributedScenario(browserCtx, masterWebPort, errors);
        await check('no JavaScript errors on the pages', () => {
            assert.deepEqual(errors, []);
        });
        await browserCtx.close();

        await check('dashboard exits with code 0 on SIGINT', () => stopCicada(web));
        await check('second dashboard exits with code 0 on SIGINT', () => stopCicada(evil));
        await check('master exits with code 0 on SIGINT', () => stopCicada(master));
        // The master tells its workers to quit; they must not need a signal of their own.
        for (const w of workers)
            await check(`${w.name} exits with code 0 when the master quits`, async () => {
                let timer;
                const r = await Promise.race([w.exited, new Promise((res) => {
                    timer = setTimeout(res, EXIT_MS, 'timeout');
                })]);
                clearTimeout(timer);
                assert.notEqual(r, 'timeout', `${w.name} still running:\n${tail(w.err)}`);
                assert.deepEqual(w.exit, {code: 0, signal: null}, tail(w.err));
            });
        await check('demo target exits with code 0 on SIGINT', () => stopCicada(demo));
    });
}

await main();
