/* cicada dashboard: the page served at GET /, over the JSON API in docs/api.md.
 * Charts: Chart.js 4.6.1 (from npm, vendored as static/chart.umd.min.js; MIT, see
 * static/chart.js.LICENSE). Shared pieces (tables, charts, ratio trees) are in report.js.
 *
 * Stable element ids (for browser tests; most also carry the same data-testid):
 *   header      #host, #state (ready/spawning/running/stopping/stopped/...), #user-count,
 *               #worker-count (distributed only), #rps (current_rps, 2 decimals),
 *               #fail-ratio (fail_ratio x 100, rounded; the "%" is outside the element),
 *               #connection-lost (badge shown while the server does not answer),
 *               #action-error (why Stop or Reset stats failed, for a few seconds),
 *               #thresholds-verdict ("2 of 3 passed", data-verdict="passed|failed"; its
 *               box shows only when the test has thresholds)
 *   buttons     #new-test (ready/stopped), #edit-test and #stop (spawning/running),
 *               #reset-stats
 *   dialog      #swarm-dialog holding #swarm-form, one form for both uses: title #swarm-title
 *               ("Start new load test" / "Edit running load test"); fields named as the API:
 *               user_count, spawn_rate, host, run_time, user_classes (multi-select, only with
 *               --class-picker), ids #user_count, #spawn_rate, #host-input, #run_time,
 *               #user_classes; submit #start-swarm (new test) or #update-swarm (edit; only
 *               user_count and spawn_rate are sent); #swarm-error shows the server's message
 *               on failure; #swarm-close closes it (so does Escape). The dialog is not
 *               modal, and it opens by itself when the page loads in state "ready"
 *               (#new-test still works then)
 *   tabs        buttons [data-tab="stats|charts|timings|failures|exceptions|ratio|download|
 *               workers|logs"] (also #tab-button-<name>, aria-selected="true" when shown), panels
 *               #tab-<name>; the workers tab shows only when distributed; the URL fragment
 *               (#charts ...) keeps the tab over a reload; #failures-count and
 *               #exceptions-count are the badges on their tabs
 *   tables      #stats-table, #thresholds-table (above it, only with thresholds),
 *               #timings-table, #failures-table, #exceptions-table,
 *               #workers-table; click a header (th[data-sortkey]) to sort; the Aggregated
 *               row has class "total"
 *   timings     #timings-stat picks what the phase columns show (avg, p50, p95, p99)
 *   charts      canvases #chart-rps, #chart-response-times, #chart-users, #chart-per-name
 *   ratio       #script (the scenario file), #ratio-per-class, #ratio-total
 *   downloads   #download-stats-csv, #download-full-history-csv (only with full history),
 *               #download-failures-csv, #download-exceptions-csv, #download-report
 *   logs        #logs (one div.log-line per line, newest at the bottom)
 *
 * Every string from the server goes into the DOM as text, never as markup. */
(function () {
    'use strict';

    var UI = window.CicadaUI;
    var cfg = window.cicada || {};
    var $ = function (id) { return document.getElementById(id); };
    var isNum = function (v) { return typeof v === 'number' && isFinite(v); };

    var TABS = ['stats', 'charts', 'timings', 'failures', 'exceptions', 'ratio', 'download',
                'workers', 'logs'];
    var RUNNING = ['spawning', 'running'];
    var BUSY = ['spawning', 'running', 'stopping', 'cleanup'];

    var state = {
        tab: 'stats',
        runState: cfg.state || 'ready',
        userCount: 0,
        host: cfg.host,
        /* What the New test form shows when opened; updated by each successful start. */
        startValues: {
            user_count: isNum(cfg.num_users) ? cfg.num_users : 1,
            spawn_rate: isNum(cfg.spawn_rate) ? cfg.spawn_rate : 1,
            host: cfg.host || '',
            run_time: cfg.run_time || ''
        },
        /* The target of the running test, for the Edit form. */
        target: null,
        dialogMode: null
    };

    /* ---------------------------------------------------------------------------------
     * Network. */
    var connection = {
        lost: false,
        set: function (lost) {
            if (this.lost !== lost) {
                this.lost = lost;
                $('connection-lost').hidden = !lost;
            }
        }
    };

    /* GET url and parse JSON. Network failures mark the connection lost; any answer from
     * the server marks it back. Rejects on failure. */
    function getJSON(url) {
        return fetch(url, {cache: 'no-store', credentials: 'same-origin'}).then(function (res) {
            connection.set(false);
            if (!res.ok)
                throw new Error('HTTP ' + res.status + ' from ' + url);
            return res.json();
        }, function (err) {
            connection.set(true);
            throw err;
        });
    }

    function getText(url) {
        return fetch(url, {cache: 'no-store', credentials: 'same-origin'}).then(function (res) {
            connection.set(false);
            return res.text().then(function (body) {
                if (!res.ok)
                    throw new Error(body || 'HTTP ' + res.status);
                return body;
            });
        }, function (err) {
            connection.set(true);
            throw err;
        });
    }

    /* A setTimeout chain: runs fn (which returns a promise), then waits delay ms after it
     * settles. kick() runs it now (or right after the run in flight); enabled() false
     * leaves the chain idle until the next kick. */
    function Poller(fn, delay, enabled) {
        this.fn = fn;
        this.delay = delay;
        this.enabled = enabled || function () { return true; };
        this.timer = null;
        this.busy = false;
        this.again = false;
    }

    Poller.prototype.kick = function () {
        var self = this;
        if (this.busy) {
            this.again = true;
            return;
        }
        clearTimeout(this.timer);
        this.timer = null;
        if (!this.enabled())
            return;
        this.busy = true;
        Promise.resolve().then(this.fn).catch(function (err) {
            if (window.console && console.debug)
                console.debug('cicada:', err && err.message ? err.message : err);
        }).then(function () {
            self.busy = false;
            if (self.again) {
                self.again = false;
                self.kick();
            } else {
                self.timer = setTimeout(function () { self.kick(); }, self.delay);
            }
        });
    };

    /* ---------------------------------------------------------------------------------
     * Header. */
    function setText(id, text) {
        var e = $(id);
        text = String(text);
        if (e.textContent !== text)
            e.textContent = text;
    }

    function renderHost() {
        var h = state.host;
        setText('host', h ? h : '\u2014');
        $('host').title = h ? h : 'No host set: the scenario\u2019s user classes name theirs';
    }

    function renderRunState(s) {
        state.runState = s;
        setText('state', s);
        $('state').setAttribute('data-state', s);
        var running = RUNNING.indexOf(s) >= 0;
        $('new-test').hidden = BUSY.indexOf(s) >= 0;
        $('edit-test').hidden = !running;
        $('stop').hidden = !running;
        if (state.dialogMode === 'edit' && !running)
            closeDialog();
    }

    /* ---------------------------------------------------------------------------------
     * Tables. */
    var fmtInt = UI.fmtInt;
    var fmt2 = function (v) { return UI.fmtFixed(v, 2); };
    var str = function (key) {
        return function (r) { return r[key] === null || r[key] === undefined ? '' : r[key]; };
    };

    var statsColumns = [
        {key: 'method', label: 'Type', fmt: str('method')},
        {key: 'name', label: 'Name', fmt: str('name'), cls: 'name'},
        {key: 'num_requests', label: '# Requests', num: true,
         fmt: function (r) { return fmtInt(r.num_requests); }},
        {key: 'num_failures', label: '# Fails', num: true,
         fmt: function (r) { return fmtInt(r.num_failures); }},
        {key: 'median_response_time', label: 'Median (ms)', num: true,
         fmt: function (r) { return fmtInt(r.median_response_time); }},
        {key: 'ninetieth_response_time', label: '90%ile (ms)', num: true,
         fmt: function (r) { return fmtInt(r.ninetieth_response_time); }},
        {key: 'ninety_ninth_response_time', label: '99%ile (ms)', num: true,
         sortValue: function (r) { return p99(r); },
         fmt: function (r) { return fmtInt(p99(r)); }},
        {key: 'avg_response_time', label: 'Average (ms)', num: true,
         fmt: function (r) { return fmtInt(r.avg_response_time); },
         cellTitle: function (r) { return fmt2(r.avg_response_time) + ' ms'; }},
        {key: 'min_response_time', label: 'Min (ms)', num: true,
         fmt: function (r) { return fmtInt(r.min_response_time); }},
        {key: 'max_response_time', label: 'Max (ms)', num: true,
         fmt: function (r) { return fmtInt(r.max_response_time); }},
        {key: 'avg_content_length', label: 'Average size (bytes)', num: true,
         fmt: function (r) { return fmtInt(r.avg_content_length); }},
        {key: 'current_rps', label: 'Current RPS', num: true,
         fmt: function (r) { return fmt2(r.current_rps); }},
        {key: 'current_fail_per_sec', label: 'Current Failures/s', num: true,
         fmt: function (r) { return fmt2(r.current_fail_per_sec); }}
    ];
    if (cfg.open_model) {
        /* Open model: the 99th percentile from each iteration's intended start, beside the
         * measured one, so a slow target cannot hide behind fewer requests. */
        var fromIntended = function (r) {
            var p = r.intended_start_percentiles;
            return p && isNum(p['0.99']) ? p['0.99'] : null;
        };
        statsColumns.splice(7, 0, {key: 'intended_p99', label: '99%ile from intended start (ms)',
                                   num: true, sortValue: fromIntended,
                                   fmt: function (r) { return fmtInt(fromIntended(r)); }});
    }
    var statsTable = new UI.SortableTable($('stats-table'), statsColumns,
                                          {pinLast: UI.isAggregated, emptyText: 'No requests yet.'});

    function p99(r) {
        return isNum(r.ninety_ninth_response_time) ? r.ninety_ninth_response_time :
            r['response_time_percentile_0.99'];
    }

    var timingStat = UI.TIMING_STATS[0].key;
    var timingsTable = new UI.SortableTable(
        $('timings-table'), UI.timingColumns(function () { return timingStat; }),
        {pinLast: UI.isAggregated, emptyText: 'No requests yet.'});

    var failuresTable = new UI.SortableTable($('failures-table'), UI.failureColumns,
                                             {emptyText: 'No failures.'});
    var exceptionsTable = new UI.SortableTable($('exceptions-table'), UI.exceptionColumns,
                                               {emptyText: 'No exceptions.'});
    /* A worker above this CPU % limits the test itself (Locust's threshold). */
    var CPU_WARNING = 90;
    var workersTable = new UI.SortableTable($('workers-table'), [
        {key: 'id', label: 'Worker', fmt: str('id'), cls: 'name'},
        {key: 'host', label: 'Host', fmt: str('host')},
        {key: 'state', label: 'State', fmt: str('state'),
         cellClass: function (r) { return r.state === 'missing' ? 'bad' : ''; }},
        {key: 'user_count', label: '# users', num: true,
         fmt: function (r) { return fmtInt(r.user_count); }},
        {key: 'cpu_usage', label: 'CPU usage (%)', num: true,
         fmt: function (r) { return UI.fmtFixed(r.cpu_usage, 1); },
         cellClass: function (r) { return r.cpu_usage > CPU_WARNING ? 'bad' : ''; }},
        {key: 'memory_usage', label: 'Memory usage', num: true,
         fmt: function (r) { return UI.fmtBytes(r.memory_usage); }},
        {key: 'heartbeat_age', label: 'Last heartbeat (s ago)', num: true,
         fmt: function (r) { return UI.fmtFixed(r.heartbeat_age, 1); }}
    ], {emptyText: 'No workers connected.'});

    /* Says when the load generator, not the target, is the limit (CPU, loop lag, or
     * iterations that could not start on time). */
    function renderGenerator(g) {
        var box = $('generator-warning');
        var on = !!(g && g.limited);
        box.hidden = !on;
        var text = on ? 'The load generator, not the target, is limiting this test: ' +
            g.reason + '.' : '';
        if (g && (g.iterations || g.iterations_dropped))
            text += (text ? ' ' : '') + 'Open model: ' + fmtInt(g.iterations) +
                ' iterations started, ' + fmtInt(g.iterations_late) + ' late, ' +
                fmtInt(g.iterations_dropped) + ' dropped.';
        box.hidden = !text;
        setText('generator-warning', text);
    }

    function renderCpuWarning(workers) {
        var hot = workers.filter(function (w) {
            return w.state !== 'missing' && w.cpu_usage > CPU_WARNING;
        }).map(function (w) { return w.id; });
        var box = $('cpu-warning');
        box.hidden = !hot.length;
        setText('cpu-warning', hot.length ? (hot.length === 1 ? 'Worker ' : 'Workers ') +
                hot.join(', ') + (hot.length === 1 ? ' is' : ' are') + ' above ' +
                CPU_WARNING + '% CPU: the load generator, not the target, may be the ' +
                'bottleneck: add workers rather than users.' : '');
    }

    var thresholdsTable = new UI.SortableTable($('thresholds-table'), UI.thresholdColumns);
    function renderThresholds(list) {
        list = Array.isArray(list) ? list : [];
        $('thresholds-box').hidden = !list.length;
        $('thresholds-panel').hidden = !list.length;
        if (!list.length)
            return;
        var measured = list.some(function (t) { return t.status; });
        var ok = list.every(function (t) { return t.status === 'passed'; });
        setText('thresholds-verdict', measured ? UI.thresholdSummary(list) : 'not measured');
        $('thresholds-verdict').setAttribute('data-verdict',
                                             !measured ? '' : ok ? 'passed' : 'failed');
        thresholdsTable.render(list);
    }

    function setCount(id, n) {
        var e = $(id);
        e.hidden = !n;
        setText(id, n ? String(n) : '');
    }

    /* ---------------------------------------------------------------------------------
     * Pollers. */
    var statsPoller = new Poller(function () {
        return getJSON('./stats/requests').then(function (d) {
            if (typeof d.state === 'string')
                renderRunState(d.state);
            if (isNum(d.user_count)) {
                state.userCount = d.user_count;
                setText('user-count', String(d.user_count));
            }
            var rps = isNum(d.current_rps) ? d.current_rps : d.total_rps;
            setText('rps', isNum(rps) ? rps.toFixed(2) : '0.00');
            setText('fail-ratio', String(Math.round((isNum(d.fail_ratio) ? d.fail_ratio : 0) * 100)));
            statsTable.render(d.stats);
            renderThresholds(d.thresholds);
            timingsTable.render(d.stats);
            var errors = Array.isArray(d.errors) ? d.errors : [];
            failuresTable.render(errors);
            setCount('failures-count', errors.length);
            renderGenerator(d.generator);
            if (cfg.is_distributed) {
                var workers = Array.isArray(d.workers) ? d.workers : [];
                setText('worker-count', String(isNum(d.worker_count) ? d.worker_count :
                                                workers.length));
                workersTable.render(workers);
                renderCpuWarning(workers);
            }
        });
    }, 2000);

    var charts = null;
    var historyPoller = new Poller(function () {
        if (!charts)
            return null;
        /* Long-lived pages: reseed from the server, whose history merges old points. */
        if (charts.count > 4000)
            charts.clear();
        var url = charts.last === null ? './stats/history' :
            './stats/history?since=' + encodeURIComponent(charts.last);
        return getJSON(url).then(function (h) {
            charts.add(h);
            if (state.tab === 'charts')
                charts.draw();
        });
    }, 2000);

    var exceptionsPoller = new Poller(function () {
        return getJSON('./exceptions').then(function (d) {
            var list = Array.isArray(d.exceptions) ? d.exceptions : [];
            exceptionsTable.render(list);
            setCount('exceptions-count', list.length);
        });
    }, 5000);

    var tasksPoller = new Poller(function () {
        return getJSON('./tasks').then(function (d) {
            UI.renderRatio($('ratio'), d);
        });
    }, 5000);

    var logsShown = null;
    var logsPoller = new Poller(function () {
        return getJSON('./logs').then(renderLogs);
    }, 5000, function () { return state.tab === 'logs'; });

    function renderLogs(d) {
        var lines = Array.isArray(d.master) ? d.master.slice() : [];
        var workers = d.workers && typeof d.workers === 'object' ? d.workers : {};
        Object.keys(workers).forEach(function (id) {
            if (Array.isArray(workers[id]) && workers[id].length) {
                lines.push({heading: 'worker ' + id});
                lines = lines.concat(workers[id]);
            }
        });
        var key = JSON.stringify(lines);
        if (key === logsShown)
            return;
        var box = $('logs');
        var atBottom = logsShown === null ||
            box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
        logsShown = key;
        var frag = document.createDocumentFragment();
        lines.forEach(function (line) {
            if (line && line.heading)
                frag.appendChild(UI.el('div', {'class': 'log-heading', text: line.heading}));
            else
                frag.appendChild(UI.el('div', {'class': 'log-line', text: String(line)}));
        });
        if (!lines.length)
            frag.appendChild(UI.el('div', {'class': 'muted', text: 'No log lines yet.'}));
        box.replaceChildren(frag);
        if (atBottom)
            box.scrollTop = box.scrollHeight;
    }

    /* ---------------------------------------------------------------------------------
     * Tabs. */
    function showTab(name) {
        if (TABS.indexOf(name) < 0 || (name === 'workers' && !cfg.is_distributed))
            name = 'stats';
        state.tab = name;
        document.querySelectorAll('[data-tab]').forEach(function (b) {
            b.setAttribute('aria-selected', String(b.getAttribute('data-tab') === name));
        });
        document.querySelectorAll('[data-panel]').forEach(function (p) {
            p.hidden = p.getAttribute('data-panel') !== name;
        });
        if (history.replaceState)
            history.replaceState(null, '', '#' + name);
        if (name === 'charts' && charts)
            charts.draw();
        if (name === 'logs')
            logsPoller.kick();
    }

    /* ---------------------------------------------------------------------------------
     * The New test / Edit dialog. */
    var form = $('swarm-form');
    var dialog = $('swarm-dialog');

    function openDialog(mode) {
        state.dialogMode = mode;
        var edit = mode === 'edit';
        setText('swarm-title', edit ? 'Edit running load test' : 'Start new load test');
        setText('spawn-rate-label', edit ? 'Spawn rate (users added/stopped per second)' :
                'Spawn rate (users started/second)');
        $('start-fields').hidden = edit;
        $('start-fields').disabled = edit;
        /* A load shape or an arrival rate decides the test: say what the fields mean. */
        $('workload-note').hidden = edit || !cfg.workload;
        setText('workload-note', cfg.workload || '');
        $('start-swarm').hidden = edit;
        $('update-swarm').hidden = !edit;
        showError(null);
        if (edit) {
            var t = state.target || {};
            form.elements.user_count.value = isNum(t.user_count) ? t.user_count : state.userCount;
            form.elements.spawn_rate.value = isNum(t.spawn_rate) ? t.spawn_rate :
                state.startValues.spawn_rate;
        } else {
            var v = state.startValues;
            form.elements.user_count.value = v.user_count;
            form.elements.spawn_rate.value = v.spawn_rate;
            form.elements.host.value = v.host;
            form.elements.run_time.value = v.run_time;
        }
        if (!dialog.open) {
            /* Not modal: the header and its buttons stay usable while it is open. */
            if (typeof dialog.show === 'function')
                dialog.show();
            else
                dialog.setAttribute('open', '');
        }
        form.elements.user_count.focus();
        form.elements.user_count.select();
    }

    function closeDialog() {
        state.dialogMode = null;
        if (dialog.open) {
            if (typeof dialog.close === 'function')
                dialog.close();
            else
                dialog.removeAttribute('open');
        }
    }

    function showError(msg) {
        var e = $('swarm-error');
        e.hidden = !msg;
        e.textContent = msg || '';
    }

    function setupClassPicker() {
        var classes = Array.isArray(cfg.classes) ? cfg.classes : [];
        if (!cfg.class_picker || !classes.length)
            return;
        var select = $('user_classes');
        classes.forEach(function (c) {
            var o = UI.el('option', {value: String(c), text: String(c)});
            o.selected = true;
            select.appendChild(o);
        });
        select.size = Math.min(Math.max(classes.length, 2), 6);
        $('classes-field').hidden = false;
    }

    function submitSwarm(ev) {
        ev.preventDefault();
        var edit = state.dialogMode === 'edit';
        var f = form.elements;
        var body = new URLSearchParams();
        var values = {
            user_count: f.user_count.value.trim(),
            spawn_rate: f.spawn_rate.value.trim()
        };
        body.append('user_count', values.user_count);
        body.append('spawn_rate', values.spawn_rate);
        if (!edit) {
            values.host = f.host.value.trim();
            values.run_time = f.run_time.value.trim();
            body.append('host', values.host);
            body.append('run_time', values.run_time);
            if (cfg.class_picker) {
                Array.prototype.forEach.call(f.user_classes.selectedOptions, function (o) {
                    body.append('user_classes', o.value);
                });
            }
        }
        var button = $(edit ? 'update-swarm' : 'start-swarm');
        button.disabled = true;
        showError(null);
        fetch('./swarm', {
            method: 'POST',
            credentials: 'same-origin',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'},
            body: body.toString()
        }).then(function (res) {
            connection.set(false);
            return res.text().then(function (text) {
                var json = null;
                try {
                    json = JSON.parse(text);
                } catch (e) {
                    json = null;
                }
                if (!res.ok || !json || json.success === false) {
                    throw new Error(json && json.message ? json.message :
                                    'The server answered ' + res.status + ': ' + text);
                }
                return json;
            });
        }, function () {
            connection.set(true);
            throw new Error('Could not reach the server.');
        }).then(function (json) {
            if (typeof json.host === 'string' || json.host === null) {
                state.host = json.host;
                renderHost();
            }
            state.target = {user_count: Number(values.user_count),
                            spawn_rate: Number(values.spawn_rate)};
            if (!edit)
                state.startValues = values;
            closeDialog();
            statsPoller.kick();
            historyPoller.kick();
            tasksPoller.kick();
        }).catch(function (err) {
            showError(err.message);
        }).then(function () {
            button.disabled = false;
        });
    }

    /* ---------------------------------------------------------------------------------
     * Buttons. */
    var actionErrorTimer = null;

    /* GET a control path (stop, reset); a failure shows for a few seconds in the header. */
    function action(url, after) {
        return getText(url).then(after, function (err) {
            var e = $('action-error');
            e.textContent = url.replace(/^\.\//, '') + ': ' +
                (err && err.message ? err.message : 'request failed');
            e.hidden = false;
            clearTimeout(actionErrorTimer);
            actionErrorTimer = setTimeout(function () { e.hidden = true; }, 8000);
        });
    }

    function bind() {
        document.querySelectorAll('[data-tab]').forEach(function (b) {
            b.addEventListener('click', function () { showTab(b.getAttribute('data-tab')); });
        });
        $('new-test').addEventListener('click', function () { openDialog('new'); });
        $('edit-test').addEventListener('click', function () { openDialog('edit'); });
        $('swarm-close').addEventListener('click', closeDialog);
        document.addEventListener('keydown', function (ev) {
            if (ev.key === 'Escape' && dialog.open)
                closeDialog();
        });
        form.addEventListener('submit', submitSwarm);
        $('stop').addEventListener('click', function () {
            action('./stop', function () { statsPoller.kick(); });
        });
        $('reset-stats').addEventListener('click', function () {
            action('./stats/reset', function () {
                if (charts) {
                    charts.clear();
                    charts.draw();
                }
                statsPoller.kick();
                historyPoller.kick();
                exceptionsPoller.kick();
            });
        });
    }

    /* ---------------------------------------------------------------------------------
     * Start. */
    function init() {
        document.title = 'cicada' + (cfg.locustfile ? ' \u2014 ' + cfg.locustfile : '');
        setText('version', cfg.version ? 'v' + cfg.version : '');
        setText('script', cfg.locustfile || '');
        renderHost();
        renderRunState(state.runState);
        if (cfg.is_distributed) {
            $('workers-box').hidden = false;
            $('tab-button-workers').hidden = false;
        }
        $('download-full-history-item').hidden = !cfg.full_history;
        setupClassPicker();
        statsTable.render([]);
        timingsTable.render([]);
        UI.timingStatSelect($('timings-stat'), function (key) {
            timingStat = key;
            timingsTable.render(timingsTable.rows);
        });
        failuresTable.render([]);
        exceptionsTable.render([]);
        workersTable.render([]);
        if (UI.chartsAvailable()) {
            charts = new UI.HistoryCharts({
                rps: $('chart-rps'), rt: $('chart-response-times'),
                users: $('chart-users'), perName: $('chart-per-name')
            });
        } else {
            $('charts-unavailable').hidden = false;
        }
        bind();
        showTab((location.hash || '').replace(/^#/, '') || 'stats');
        if (state.runState === 'ready')
            openDialog('new');
        statsPoller.kick();
        historyPoller.kick();
        exceptionsPoller.kick();
        tasksPoller.kick();
    }

    init();
})();
