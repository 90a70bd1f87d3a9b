// Real-browser test of cicada's web dashboard in Firefox: Debian's firefox-esr driven over
// WebDriver BiDi by puppeteer-core (Playwright's Firefox needs its own patched build).
//
//   node tests/browser/firefox.test.mjs   (env CICADA_BIN: the binary; default ./cicada)
//
// Starts its own demo target and one dashboard (not a master) on free loopback ports, drives
// the page as a person would (start from the New test form, watch the Statistics table and
// the Charts, switch tabs, edit the user count, stop, reload), checks that the charts are
// really drawn (pixels of each series' colour inside the plot area, not only Chart.js's
// data), saves two screenshots in build/screenshots/, and stops every process it started:
// Firefox through puppeteer, cicada with SIGINT, requiring exit code 0. Prints one line per
// check and "N passed, N failed"; exits 1 on any failure.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import {
    DEMO_SCENARIO, SHOTS, WAIT_MS, work, check, runSteps, freePorts, startCicada, waitHttp,
    stopCicada, until, untilText, tableRows, aggregatedRequests, chartData, watchErrors,
    checkDemoRunning, untilChartPoints, runTest
} from './harness.mjs';

const FIREFOX = process.env.FIREFOX_BIN || '/usr/bin/firefox-esr';
const WATCHDOG_MS = 120000;
const CHARTS = ['chart-rps', 'chart-response-times', 'chart-users', 'chart-per-name'];

/* ------------------------------------------------------------------------------------
 * Page helpers (puppeteer's API). */
const text = (page, sel) => page.$eval(sel, (el) => el.textContent);

/* Laid out and not hidden, as a person would see it (a closed dialog is display: none). */
const visible = (page, sel) => page.$eval(sel, (el) =>
    el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden');

/* Types into an input as a person would (puppeteer clears it first). */
async function fill(page, sel, value) {
    await page.locator(sel).fill(value);
    assert.equal(await page.$eval(sel, (el) => el.value), value, `${sel} holds "${value}"`);
}

/* Clicks a tab and waits until its panel is the only one shown and the button is selected. */
async function showTab(page, name) {
    await page.click(`[data-tab="${name}"]`);
    await until(`tab ${name} to be shown`, () => page.evaluate((n) =>
        [...document.querySelectorAll('[data-panel]')].every((p) =>
            p.hidden === (p.getAttribute('data-panel') !== n)) &&
        document.querySelector(`[data-tab="${n}"]`).getAttribute('aria-selected') === 'true', name));
}

/* What a chart's canvas shows: for each dataset, how many pixels of its colour lie inside
 * the plot area (so the legend's colour boxes do not count). Null before Chart.js made it. */
function chartPixels(page, canvasId) {
    return page.evaluate((id) => {
        const chart = window.Chart.getChart(document.getElementById(id));
        if (!chart || !chart.chartArea || !chart.canvas.width)
            return null;
        const ratio = chart.currentDevicePixelRatio || 1;
        const a = chart.chartArea;
        const x = Math.floor(a.left * ratio);
        const y = Math.floor(a.top * ratio);
        const w = Math.max(1, Math.floor((a.right - a.left) * ratio));
        const h = Math.max(1, Math.floor((a.bottom - a.top) * ratio));
        const img = chart.canvas.getContext('2d').getImageData(x, y, w, h).data;
        const probe = document.createElement('canvas').getContext('2d');
        return chart.data.datasets.map((d) => {
            probe.clearRect(0, 0, 1, 1);
            probe.fillStyle = d.borderColor;
            probe.fillRect(0, 0, 1, 1);
            const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
            let n = 0;
            for (let i = 0; i < img.length; i += 4) {
                if (img[i + 3] > 128 &&
                    Math.abs(img[i] - r) + Math.abs(img[i + 1] - g) + Math.abs(img[i + 2] - b) < 60)
                    n++;
            }
            return {label: d.label, pixels: n};
        });
    }, canvasId);
}

/* Waits until every chart has drawn its first dataset (at least `min` pixels of its colour
 * in the plot area); returns "label n" per chart. */
async function untilDrawn(page, min = 20) {
    const got = await until('every chart to draw its first series', async () => {
        const all = [];
        for (const id of CHARTS) {
            const px = await chartPixels(page, id);
            if (!px || !px.length || px[0].pixels < min)
                return null;
            all.push(`${id.replace('chart-', '')}: ${px[0].label} ${px[0].pixels} px`);
        }
        return all;
    });
    return got.join(', ');
}

/* ------------------------------------------------------------------------------------
 * The test. */
async function dashboardScenario(browser, webPort, demoPort, errors) {
    const page = await browser.newPage();
    await page.setViewport({width: 1280, height: 860});
    page.setDefaultTimeout(WAIT_MS);
    watchErrors(page, errors);
    const base = `http://127.0.0.1:${webPort}/`;
    let before = null;

    const steps = [
        ['page opens in state "ready" with the New test form, no Workers tab; start 20 users at 10/s', async () => {
            await page.goto(base);
            await untilText(page, '#state', 'ready');
            await until('the New test dialog', () => visible(page, '#swarm-dialog'));
            assert.equal((await text(page, '#swarm-title')).trim(), 'Start new load test');
            assert.ok(await visible(page, '#start-swarm'), '#start-swarm visible');
            const host = `http://127.0.0.1:${demoPort}`;
            assert.equal((await text(page, '#host')).trim(), host, 'the header shows the -H host');
            assert.equal(await page.$eval('#host-input', (el) => el.value), host,
                         'the form proposes the -H host');
            assert.equal(await visible(page, '#tab-button-workers'), false,
                         'no Workers tab on a dashboard that is not a master');
            assert.equal(await visible(page, '#workers-box'), false, 'no Workers box either');
            await fill(page, '#user_count', '20');
            await fill(page, '#spawn_rate', '10');
            await page.click('#start-swarm');
            await until('the dialog to close', async () => !(await visible(page, '#swarm-dialog')));
            return (await browser.version());
        }],
        ['state "running" with 20 users; Statistics rows for the demo requests; Aggregated grows', () =>
            checkDemoRunning(page, 20)],
        ['Charts tab: Chart.js holds the points and every canvas draws its series', async () => {
            await showTab(page, 'charts');
            const got = await untilChartPoints(page);
            const drawn = await untilDrawn(page);
            return `RPS ${got.rps[0].points} points, ${got.per.length} names; ${drawn}`;
        }],
        ['tabs: Statistics, Charts, Failures (the demo\'s 404s), Workers cannot be shown', async () => {
            await showTab(page, 'stats');
            assert.ok((await aggregatedRequests(page)) > 0, 'Statistics rows are shown');
            await showTab(page, 'charts');
            await showTab(page, 'failures');
            const fail = await until('the 404 in #failures-table', async () => {
                const r = await tableRows(page, '#failures-table');
                return r.find((x) => x.cells.name === '/api/products/[id]' &&
                              /404/.test(x.cells.error)) || null;
            });
            assert.ok(Number(fail.cells.occurrences) > 0, `# Failures is ${fail.cells.occurrences}`);
            // The hidden button, clicked from script anyway: the page falls back to Statistics.
            await page.$eval('#tab-button-workers', (b) => b.click());
            const shown = await page.evaluate(() => ({
                workers: !document.getElementById('tab-workers').hidden,
                stats: !document.getElementById('tab-stats').hidden,
                hash: location.hash
            }));
            assert.deepEqual(shown, {workers: false, stats: true, hash: '#stats'});
            return `${fail.cells.occurrences} x ${fail.cells.method} ${fail.cells.name}: ${fail.cells.error}`;
        }],
        ['Edit the running test to 5 users', async () => {
            await page.click('#edit-test');
            await until('the Edit dialog', () => visible(page, '#update-swarm'));
            assert.equal((await text(page, '#swarm-title')).trim(), 'Edit running load test');
            assert.equal(await page.$eval('#user_count', (el) => el.value), '20');
            await fill(page, '#user_count', '5');
            await page.click('#update-swarm');
            await untilText(page, '#user-count', '5');
            assert.equal(await visible(page, '#swarm-dialog'), false,
                         'the dialog closes after the update');
        }],
        ['Stop: state "stopped"', async () => {
            await page.click('#stop');
            await untilText(page, '#state', 'stopped');
            assert.equal(await visible(page, '#stop'), false, 'the Stop button goes');
        }],
        ['Reload after the stop: the charts come back from the server\'s history, drawn', async () => {
            await showTab(page, 'charts');
            before = (await chartData(page, 'chart-rps'))[0];
            await page.reload();
            await untilText(page, '#state', 'stopped');
            assert.equal(await page.evaluate(() => location.hash), '#charts', 'the Charts tab is kept');
            const after = await until('chart points after the reload', async () => {
                const d = await chartData(page, 'chart-rps');
                return d && d[0].points >= before.points ? d[0] : null;
            });
            assert.equal(after.firstX, before.firstX, 'the first point is the same as before');
            const drawn = await untilDrawn(page);
            return `RPS ${before.points} points before, ${after.points} after; ${drawn}`;
        }],
        ['screenshots of the Charts and Statistics tabs', async () => {
            fs.mkdirSync(SHOTS, {recursive: true});
            const charts = path.join(SHOTS, 'firefox-charts.png');
            await page.screenshot({path: charts, fullPage: true});
            await showTab(page, 'stats');
            await until('statistics rows', async () => (await aggregatedRequests(page)) > 0);
            const stats = path.join(SHOTS, 'firefox-stats.png');
            await page.screenshot({path: stats, fullPage: true});
            for (const f of [charts, stats])
                assert.ok(fs.statSync(f).size > 1000, `${f} is too small`);
            return `${path.relative(process.cwd(), charts)}, ${path.relative(process.cwd(), stats)}`;
        }]
    ];
    await runSteps(steps);
    await page.close();
}

async function main() {
    let browser = null;
    const errors = [];
    await runTest(WATCHDOG_MS, async () => {
        if (!fs.existsSync(FIREFOX))
            throw new Error(`${FIREFOX} does not exist (apt-get install firefox-esr)`);
        const [demoPort, webPort] = await freePorts(2);
        const demo = startCicada('demo-target', ['--demo-target', `127.0.0.1:${demoPort}`]);
        const web = startCicada('dashboard', [
            '-f', DEMO_SCENARIO, '-H', `http://127.0.0.1:${demoPort}`,
            '--web-host', '127.0.0.1', '-P', String(webPort), '--exit-code-on-error', '0']);
        await waitHttp(demo, demoPort, '/api/products');
        await waitHttp(web, webPort, '/stats/requests');

        // A fresh profile in the work directory; puppeteer writes its preferences into it.
        const profile = fs.mkdtempSync(path.join(work, 'firefox-'));
        browser = await puppeteer.launch({
            browser: 'firefox',
            executablePath: FIREFOX,
            headless: true,
            userDataDir: profile,
            timeout: 60000,
            env: {...process.env, MOZ_CRASHREPORTER_DISABLE: '1'}
        });

        await dashboardScenario(browser, webPort, demoPort, errors);
        await check('no JavaScript errors on the page', () => {
            assert.deepEqual(errors, []);
        });
        await check('Firefox closes', async () => {
            const proc = browser.process();
            await browser.close();
            browser = null;
            assert.ok(proc.exitCode !== null || proc.signalCode !== null, 'firefox-esr still running');
        });
        await check('dashboard exits with code 0 on SIGINT', () => stopCicada(web));
        await check('demo target exits with code 0 on SIGINT', () => stopCicada(demo));
    }, {
        onWatchdog: () => {
            if (browser && browser.process())
                browser.process().kill('SIGKILL');
        },
        cleanup: async () => {
            if (browser) {
                await browser.close().catch(() => {});
                if (browser.process() && browser.process().exitCode === null)
                    browser.process().kill('SIGKILL');
            }
        }
    });
}

await main();
