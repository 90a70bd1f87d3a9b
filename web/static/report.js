/* cicada: the pieces the dashboard (app.js) and the HTML report share -- DOM building,
 * number formats, sortable tables, task-ratio trees and the four history charts -- and the
 * rendering of the report itself, which runs when the page defines window.cicadaReport.
 *
 * The server inlines this file into report.html inside a script element, so it must never
 * contain a closing-tag sequence (a "<" directly followed by "/").
 *
 * Everything that comes from the server reaches the DOM as text (textContent or text
 * nodes), never as markup: request names, errors and hosts come from scenarios and targets.
 * Chart labels are drawn on a canvas, which does not interpret markup either. */
(function () {
    'use strict';

    var UI = window.CicadaUI = {};

    /* Builds an element. props: text, class, and plain attributes; kids: nodes or strings
     * (strings become text nodes). */
    function el(tag, props, kids) {
        var e = document.createElement(tag);
        if (props) {
            Object.keys(props).forEach(function (k) {
                var v = props[k];
                if (v === undefined || v === null || v === false)
                    return;
                if (k === 'text')
                    e.textContent = String(v);
                else if (k === 'class')
                    e.className = v;
                else
                    e.setAttribute(k, v === true ? '' : String(v));
            });
        }
        (kids || []).forEach(function (c) {
            if (c === null || c === undefined)
                return;
            e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
        });
        return e;
    }
    UI.el = el;

    function isNum(v) {
        return typeof v === 'number' && isFinite(v);
    }

    function pad2(n) {
        return n < 10 ? '0' + n : String(n);
    }

    UI.fmtInt = function (v) {
        return isNum(v) ? String(Math.round(v)) : '';
    };
    UI.fmtTrunc = function (v) {
        return isNum(v) ? String(Math.trunc(v)) : '';
    };
    UI.fmtFixed = function (v, digits) {
        return isNum(v) ? v.toFixed(digits) : '';
    };
    /* 58015744 -> "55.33 MB" (powers of 1024, as Locust's dashboard). */
    UI.fmtBytes = function (n) {
        if (!isNum(n))
            return '';
        if (n < 1024)
            return Math.round(n) + ' B';
        var units = ['KB', 'MB', 'GB', 'TB'];
        var i = -1;
        do {
            n /= 1024;
            i++;
        } while (n >= 1024 && i < units.length - 1);
        return n.toFixed(2) + ' ' + units[i];
    };
    /* Unix seconds -> local "HH:MM:SS". */
    UI.fmtClock = function (t) {
        var d = new Date(t * 1000);
        return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
    };
    /* Unix seconds -> local "YYYY-MM-DD HH:MM:SS". */
    UI.fmtDateTime = function (t) {
        if (!isNum(t))
            return '';
        var d = new Date(t * 1000);
        return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' +
            UI.fmtClock(t);
    };
    /* Seconds -> "1h 2m 3s". */
    UI.fmtDuration = function (s) {
        if (!isNum(s) || s < 0)
            return '';
        s = Math.round(s);
        var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), parts = [];
        if (h)
            parts.push(h + 'h');
        if (h || m)
            parts.push(m + 'm');
        parts.push(s % 60 + 's');
        return parts.join(' ');
    };
    UI.fmtRatio = function (r) {
        return (isNum(r) ? r * 100 : 0).toFixed(1) + '%';
    };

    /* The "Aggregated" row the server puts last in /stats/requests. */
    UI.isAggregated = function (row) {
        return row && row.name === 'Aggregated' && !row.method;
    };

    /* ---------------------------------------------------------------------------------
     * Sortable table. columns: [{key, label, num, fmt(row), title, cls, sortValue(row)}].
     * Clicking a header sorts by it (again: reverses); options.pinLast(row) keeps a final
     * row (Aggregated) at the bottom whatever the order. */
    function SortableTable(table, columns, options) {
        var self = this;
        options = options || {};
        this.table = table;
        this.columns = columns;
        this.pinLast = options.pinLast || null;
        this.emptyText = options.emptyText || 'No data';
        this.sortCol = null;
        this.desc = false;
        this.rows = [];
        var tr = el('tr');
        this.ths = columns.map(function (c, i) {
            var th = el('th', {
                'class': (c.num ? 'num ' : '') + 'sortable',
                'data-sortkey': c.key,
                title: c.title,
                scope: 'col',
                tabindex: '0'
            }, [c.label]);
            var activate = function () { self.sortBy(i); };
            th.addEventListener('click', activate);
            th.addEventListener('keydown', function (ev) {
                if (ev.key === 'Enter' || ev.key === ' ') {
                    ev.preventDefault();
                    activate();
                }
            });
            tr.appendChild(th);
            return th;
        });
        var thead = table.tHead || table.createTHead();
        thead.replaceChildren(tr);
        this.tbody = table.tBodies[0] || table.appendChild(el('tbody'));
    }

    SortableTable.prototype.sortBy = function (i) {
        if (this.sortCol === i) {
            this.desc = !this.desc;
        } else {
            this.sortCol = i;
            this.desc = !!this.columns[i].num;  /* numbers: biggest first */
        }
        var self = this;
        this.ths.forEach(function (th, j) {
            if (j === self.sortCol)
                th.setAttribute('aria-sort', self.desc ? 'descending' : 'ascending');
            else
                th.removeAttribute('aria-sort');
        });
        this.render(this.rows);
    };

    SortableTable.prototype.value = function (col, row) {
        return col.sortValue ? col.sortValue(row) : row[col.key];
    };

    SortableTable.prototype.render = function (rows) {
        var self = this;
        this.rows = rows = Array.isArray(rows) ? rows : [];
        var pinned = null, body = rows.slice();
        if (this.pinLast && body.length && this.pinLast(body[body.length - 1]))
            pinned = body.pop();
        if (this.sortCol !== null) {
            var col = this.columns[this.sortCol], sign = this.desc ? -1 : 1;
            body.sort(function (a, b) {
                var x = self.value(col, a), y = self.value(col, b);
                if (col.num) {
                    x = isNum(x) ? x : -Infinity;
                    y = isNum(y) ? y : -Infinity;
                    return sign * (x < y ? -1 : x > y ? 1 : 0);
                }
                return sign * String(x === null || x === undefined ? '' : x)
                    .localeCompare(String(y === null || y === undefined ? '' : y));
            });
        }
        var frag = document.createDocumentFragment();
        if (!rows.length) {
            frag.appendChild(el('tr', {'class': 'empty'}, [
                el('td', {colspan: String(this.columns.length), text: this.emptyText})
            ]));
        }
        var addRow = function (row, cls) {
            var tr = el('tr', {'class': cls});
            self.columns.forEach(function (c) {
                var text = c.fmt ? c.fmt(row) : row[c.key];
                tr.appendChild(el('td', {
                    'class': [c.num ? 'num' : '', c.cls || '',
                              c.cellClass ? c.cellClass(row) || '' : ''].join(' ').trim() || null,
                    title: c.cellTitle ? c.cellTitle(row) : null,
                    text: text === null || text === undefined ? '' : text
                }));
            });
            frag.appendChild(tr);
        };
        body.forEach(function (r) { addRow(r, null); });
        if (pinned)
            addRow(pinned, 'total');
        this.tbody.replaceChildren(frag);
    };
    UI.SortableTable = SortableTable;

    /* ---------------------------------------------------------------------------------
     * Task ratio trees ("Ratio per User class", "Total ratio") from the /tasks object. */
    function ratioList(obj) {
        var ul = el('ul');
        Object.keys(obj || {}).forEach(function (name) {
            var node = obj[name] || {};
            var li = el('li', null, [
                el('span', {'class': 'pct', text: UI.fmtRatio(node.ratio)}),
                ' ',
                el('span', {'class': 'task-name', text: name})
            ]);
            if (node.tasks && Object.keys(node.tasks).length)
                li.appendChild(ratioList(node.tasks));
            ul.appendChild(li);
        });
        return ul;
    }

    UI.renderRatio = function (container, tasks) {
        tasks = tasks || {};
        var block = function (title, obj, id) {
            var list = ratioList(obj);
            if (!list.childNodes.length)
                list = el('p', {'class': 'muted', text: 'No user classes.'});
            return el('div', {'class': 'ratio-block', id: id}, [el('h3', {text: title}), list]);
        };
        container.replaceChildren(
            block('Ratio per User class', tasks.per_class, 'ratio-per-class'),
            block('Total ratio', tasks.total, 'ratio-total'));
    };

    /* ---------------------------------------------------------------------------------
     * Charts. The x axis is Unix seconds on a linear scale, labelled as local wall-clock
     * time; ticks fall on round local times (every 5 s, 1 min, 15 min ...). */
    var TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
                      10800, 21600, 43200, 86400];

    function timeTicks(axis) {
        var min = axis.min, max = axis.max, span = max - min;
        if (!(span > 0))
            return;
        /* About 75 px per "HH:MM:SS" label, at most 7. */
        var most = Math.max(2, Math.min(7, Math.floor((axis.maxWidth || axis.width || 600) / 75)));
        var step = TICK_STEPS[TICK_STEPS.length - 1];
        for (var i = 0; i < TICK_STEPS.length; i++) {
            if (span / TICK_STEPS[i] <= most) {
                step = TICK_STEPS[i];
                break;
            }
        }
        /* Align to local time: local seconds = unix - offset. */
        var off = new Date(min * 1000).getTimezoneOffset() * 60;
        var ticks = [];
        for (var v = Math.ceil((min - off) / step) * step + off; v <= max; v += step)
            ticks.push({value: v});
        axis.ticks = ticks;
    }

    /* Draws a dashed "Run #n" line where each test starts once there is more than one,
     * and "No data yet" on an empty chart. */
    var runMarkers = {
        id: 'cicadaRunMarkers',
        afterDatasetsDraw: function (chart) {
            var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
            var empty = chart.data.datasets.every(function (d) { return !d.data.length; });
            if (empty) {
                ctx.save();
                ctx.fillStyle = '#8a94a6';
                ctx.font = '13px system-ui, sans-serif';
                ctx.textAlign = 'center';
                ctx.fillText('No data yet', (area.left + area.right) / 2,
                             (area.top + area.bottom) / 2);
                ctx.restore();
                return;
            }
            var starts = chart.$cicadaRuns;
            if (!starts || starts.length < 2)
                return;
            ctx.save();
            ctx.strokeStyle = '#8a94a6';
            ctx.fillStyle = '#5b6475';
            ctx.setLineDash([4, 3]);
            ctx.lineWidth = 1;
            ctx.font = '11px system-ui, sans-serif';
            starts.forEach(function (t, i) {
                var px = x.getPixelForValue(t);
                if (px < area.left - 1 || px > area.right + 1)
                    return;
                ctx.beginPath();
                ctx.moveTo(px, area.top);
                ctx.lineTo(px, area.bottom);
                ctx.stroke();
                ctx.fillText('Run #' + (i + 1), px + 3, area.top + 11);
            });
            ctx.restore();
        }
    };

    var COLORS = {
        rps: '#1f8a4c', fail: '#d64545', median: '#2f6fde', p95: '#e08a1e', users: '#7048c6'
    };

    function nameColor(i) {
        return 'hsl(' + Math.round(i * 137.508 % 360) + ', 62%, ' + (i % 2 ? 38 : 48) + '%)';
    }

    function dataset(label, color, extra) {
        var d = {
            label: label, data: [], borderColor: color, backgroundColor: color,
            borderWidth: 1.6, pointRadius: 0, pointHoverRadius: 3, pointHitRadius: 6,
            tension: 0, spanGaps: false, fill: false
        };
        return Object.assign(d, extra || {});
    }

    function lineChart(canvas, datasets, opts) {
        opts = opts || {};
        var chart = new window.Chart(canvas, {
            type: 'line',
            data: {datasets: datasets},
            options: {
                animation: false,
                responsive: true,
                maintainAspectRatio: false,
                parsing: false,
                normalized: true,
                interaction: {mode: opts.mode || 'index', axis: 'x', intersect: false},
                layout: {padding: {top: 4}},
                plugins: {
                    legend: {
                        position: opts.legendPosition || 'top',
                        align: 'start',
                        labels: {boxWidth: 10, boxHeight: 10, font: {size: 11}, padding: 8}
                    },
                    tooltip: {
                        filter: function (item) {
                            return item.parsed && isNum(item.parsed.y);
                        },
                        itemSort: opts.sortTooltip ? function (a, b) {
                            return b.parsed.y - a.parsed.y;
                        } : undefined,
                        callbacks: {
                            title: function (items) {
                                return items.length ? UI.fmtClock(items[0].parsed.x) : '';
                            },
                            label: function (item) {
                                var v = item.parsed.y;
                                var digits = opts.digits === undefined ? 2 : opts.digits;
                                return ' ' + item.dataset.label + ': ' +
                                    (Number.isInteger(v) ? v : v.toFixed(digits));
                            }
                        }
                    }
                },
                scales: {
                    x: {
                        type: 'linear',
                        afterBuildTicks: timeTicks,
                        ticks: {
                            autoSkip: false, maxRotation: 0, font: {size: 11},
                            callback: function (v) { return UI.fmtClock(v); }
                        },
                        grid: {color: '#eef0f3'}
                    },
                    y: {
                        beginAtZero: true,
                        ticks: {font: {size: 11}, precision: opts.integerY ? 0 : undefined},
                        grid: {color: '#eef0f3'}
                    }
                }
            },
            plugins: [runMarkers]
        });
        return chart;
    }

    /* The four history charts. canvases: {rps, rt, users, perName} canvas elements.
     * add(history) appends the points of a /stats/history answer that are newer than the
     * last one shown; a jump in time (the charts saw no point for a while: the test was
     * stopped, or the page was closed) breaks the lines with a null point and starts a new
     * "Run #n". */
    function HistoryCharts(canvases) {
        window.Chart.defaults.font.family =
            'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
        window.Chart.defaults.color = '#4a5263';
        this.runs = [];
        this.main = {
            rps: lineChart(canvases.rps, [
                dataset('RPS', COLORS.rps), dataset('Failures/s', COLORS.fail)]),
            rt: lineChart(canvases.rt, [
                dataset('Median Response Time', COLORS.median),
                dataset('95% percentile', COLORS.p95)], {digits: 1}),
            users: lineChart(canvases.users, [dataset('Users', COLORS.users)],
                             {integerY: true, digits: 0})
        };
        this.perName = lineChart(canvases.perName, [], {
            mode: 'nearest', sortTooltip: true, digits: 1, legendPosition: 'right'
        });
        this.byName = new Map();
        this.all().forEach(function (c) { c.$cicadaRuns = this.runs; }, this);
        this.clear();
    }

    HistoryCharts.prototype.all = function () {
        return [this.main.rps, this.main.rt, this.main.users, this.perName];
    };

    HistoryCharts.prototype.clear = function () {
        this.first = null;
        this.last = null;
        this.count = 0;
        this.runs.length = 0;
        [this.main.rps, this.main.rt, this.main.users].forEach(function (c) {
            c.data.datasets.forEach(function (d) { d.data.length = 0; });
        });
        this.perName.data.datasets.length = 0;
        this.byName.clear();
        /* An empty chart still shows the last minute rather than the epoch. */
        var now = Math.floor(Date.now() / 1000);
        this.all().forEach(function (c) {
            c.options.scales.x.min = now - 60;
            c.options.scales.x.max = now;
        });
        this.dirty = true;
    };

    HistoryCharts.prototype.nameSet = function (name) {
        var d = this.byName.get(name);
        if (!d) {
            /* Sparse names (a rare request) would be lone dots: add() leaves out empty
             * intervals and Chart.js joins points up to 10 s apart; a longer hole, or the
             * null point add() puts between runs, still breaks the line. */
            d = dataset(name, nameColor(this.byName.size), {spanGaps: 10});
            this.byName.set(name, d);
            this.perName.data.datasets.push(d);
        }
        return d;
    };

    /* Returns the number of points added. */
    HistoryCharts.prototype.add = function (h) {
        if (!h || !Array.isArray(h.points) || !h.points.length)
            return 0;
        var cols = Array.isArray(h.columns) ? h.columns : [];
        var idx = function (name, fallback) {
            var i = cols.indexOf(name);
            return i >= 0 ? i : fallback;
        };
        var iT = idx('time', 0), iU = idx('user_count', 1), iR = idx('current_rps', 2),
            iF = idx('current_fail_per_sec', 3), i50 = idx('response_time_percentile_0.5', 4),
            i95 = idx('response_time_percentile_0.95', 5);
        var interval = isNum(h.interval) && h.interval > 0 ? h.interval : 1;
        var gap = Math.max(5, interval * 2.5);
        var names = Array.isArray(h.names) ? h.names : [];
        var series = Array.isArray(h.series) ? h.series : [];
        var sets = names.map(this.nameSet, this);
        var rps = this.main.rps.data.datasets, rt = this.main.rt.data.datasets,
            users = this.main.users.data.datasets;
        var mainSets = [rps[0], rps[1], rt[0], rt[1], users[0]];
        var added = 0;
        var val = function (v) { return isNum(v) ? v : null; };
        for (var j = 0; j < h.points.length; j++) {
            var p = h.points[j];
            var t = Array.isArray(p) ? p[iT] : null;
            if (!isNum(t) || (this.last !== null && t <= this.last))
                continue;
            if (this.last === null || t - this.last > gap) {
                if (this.last !== null) {
                    var mid = (this.last + t) / 2;
                    mainSets.concat(this.perName.data.datasets).forEach(function (d) {
                        d.data.push({x: mid, y: null});
                    });
                }
                this.runs.push(t);
            }
            rps[0].data.push({x: t, y: val(p[iR])});
            rps[1].data.push({x: t, y: val(p[iF])});
            rt[0].data.push({x: t, y: val(p[i50])});
            rt[1].data.push({x: t, y: val(p[i95])});
            users[0].data.push({x: t, y: val(p[iU])});
            /* A name without requests in this interval gets no point (not a null one),
             * so its line joins over short holes; see nameSet. */
            for (var k = 0; k < sets.length; k++) {
                var v = Array.isArray(series[k]) ? val(series[k][j]) : null;
                if (v !== null)
                    sets[k].data.push({x: t, y: v});
            }
            if (this.first === null)
                this.first = t;
            this.last = t;
            added++;
        }
        if (added) {
            this.count += added;
            var first = this.first, last = this.last;
            this.all().forEach(function (c) {
                c.options.scales.x.min = first;
                c.options.scales.x.max = last > first ? last : first + 1;
            });
            this.dirty = true;
        }
        return added;
    };

    /* Redraws the charts if anything changed since the last call. */
    HistoryCharts.prototype.draw = function () {
        if (!this.dirty)
            return;
        this.dirty = false;
        /* Dots only on sparse names, whose points may stand alone: with 50 dense names
         * over an hour, drawing every dot would cost seconds per redraw. */
        var count = this.count;
        this.perName.data.datasets.forEach(function (d) {
            d.pointRadius = d.data.length * 5 < count ? 1.5 : 0;
        });
        this.all().forEach(function (c) { c.update('none'); });
    };
    UI.HistoryCharts = HistoryCharts;

    UI.chartsAvailable = function () {
        return typeof window.Chart === 'function';
    };

    /* ---------------------------------------------------------------------------------
     * Column sets used by both pages. */
    var text = function (key) {
        return function (r) { return r[key] === null || r[key] === undefined ? '' : r[key]; };
    };
    UI.failureColumns = [
        {key: 'occurrences', label: '# Failures', num: true, fmt: function (r) {
            return UI.fmtInt(r.occurrences);
        }},
        {key: 'method', label: 'Method', fmt: text('method')},
        {key: 'name', label: 'Name', fmt: text('name'), cls: 'name'},
        {key: 'error', label: 'Type', fmt: text('error'), cls: 'wrap'}
    ];
    UI.exceptionColumns = [
        {key: 'count', label: '# occurrences', num: true, fmt: function (r) {
            return UI.fmtInt(r.count);
        }},
        {key: 'msg', label: 'Message', fmt: text('msg'), cls: 'wrap'},
        {key: 'traceback', label: 'Traceback', fmt: text('traceback'), cls: 'pre'},
        {key: 'nodes', label: 'Nodes', fmt: text('nodes')}
    ];

    /* ---------------------------------------------------------------------------------
     * The timing breakdown: a row's "timings" (docs/api.md) as one column per phase, each
     * showing the statistic stat() names, then the whole response time's figure for the
     * same statistic. Phase averages add up to the average response time; percentiles
     * of phases do not add up, which is why the choice is one statistic at a time. */
    UI.TIMING_STATS = [
        {key: 'avg', label: 'Averages'},
        {key: 'p50', label: 'Medians'},
        {key: 'p95', label: '95th percentiles'},
        {key: 'p99', label: '99th percentiles'}
    ];
    var PHASES = [
        {key: 'dns', label: 'DNS', title: 'Name resolution'},
        {key: 'connect', label: 'Connect', title: 'TCP connect; 0 on a reused connection'},
        {key: 'tls', label: 'TLS',
         title: 'TLS handshake; 0 without TLS or on a reused connection'},
        {key: 'ttfb', label: 'Time to first byte',
         title: 'Connection ready to the first byte of the answer: sending the request ' +
                'and the server\u2019s wait'},
        {key: 'transfer', label: 'Transfer', title: 'First byte of the answer to the last'}
    ];
    /* The row's response-time key for each statistic. */
    var RT_KEYS = {avg: 'avg_response_time', p50: 'median_response_time',
                   p95: 'response_time_percentile_0.95',
                   p99: 'response_time_percentile_0.99'};

    UI.fmtMs3 = function (v) {
        return isNum(v) ? v.toFixed(3) : '';
    };

    /* Columns for a SortableTable of /stats/requests rows; stat() returns one of
     * UI.TIMING_STATS' keys. */
    UI.timingColumns = function (stat) {
        var phase = function (key) {
            return function (r) {
                var p = r.timings && r.timings[key];
                var v = p ? p[stat()] : null;
                return isNum(v) ? v : null;
            };
        };
        var rt = function (r) {
            var v = r[RT_KEYS[stat()]];
            return isNum(v) ? v : null;
        };
        return [
            {key: 'method', label: 'Method', fmt: text('method')},
            {key: 'name', label: 'Name', fmt: text('name'), cls: 'name'},
            {key: 'count', label: '# Requests', num: true,
             title: 'Requests with a timing breakdown',
             sortValue: function (r) { return r.timings ? r.timings.count : null; },
             fmt: function (r) { return r.timings ? UI.fmtInt(r.timings.count) : ''; }}
        ].concat(PHASES.map(function (p) {
            var get = phase(p.key);
            return {key: p.key, label: p.label + ' (ms)', num: true, title: p.title,
                    sortValue: get, fmt: function (r) { return UI.fmtMs3(get(r)); }};
        }), [
            {key: 'response_time', label: 'Response time (ms)', num: true,
             title: 'The whole response time, same statistic: the phases\u2019 averages ' +
                    'add up to its average',
             sortValue: rt,
             fmt: function (r) {
                 return stat() === 'avg' ? UI.fmtMs3(rt(r)) : UI.fmtInt(rt(r));
             }}
        ]);
    };

    /* Fills a <select> with UI.TIMING_STATS and calls onChange(key) when it changes. */
    UI.timingStatSelect = function (select, onChange) {
        UI.TIMING_STATS.forEach(function (s) {
            select.appendChild(el('option', {value: s.key, text: s.label}));
        });
        select.value = UI.TIMING_STATS[0].key;
        select.addEventListener('change', function () { onChange(select.value); });
    };

    /* ---------------------------------------------------------------------------------
     * Thresholds (the "thresholds" array of /stats/requests and of the report's data). */
    UI.thresholdVerdict = function (t) {
        return t.status === 'passed' ? 'passed' : t.status === 'failed' ? 'FAILED' :
            t.status === 'error' ? 'no samples' : 'not measured';
    };
    UI.thresholdColumns = [
        {key: 'status', label: 'Verdict', fmt: UI.thresholdVerdict,
         cellClass: function (t) {
             return t.status === 'passed' ? 'good' : t.status ? 'bad' : '';
         }},
        {key: 'threshold', label: 'Threshold', fmt: text('threshold'), cls: 'name'},
        {key: 'text', label: 'Measured', fmt: text('text'), cls: 'wrap'},
        {key: 'abort_on_fail', label: 'Abort', title: 'Ends the test as soon as it fails',
         fmt: function (t) { return t.aborted ? 'ended the test' : t.abort_on_fail ? 'yes' : ''; }}
    ];
    /* "2 of 3 passed", or "" without thresholds. */
    UI.thresholdSummary = function (list) {
        if (!Array.isArray(list) || !list.length)
            return '';
        var passed = list.filter(function (t) { return t.status === 'passed'; }).length;
        return passed + ' of ' + list.length + ' passed';
    };

    /* ---------------------------------------------------------------------------------
     * The HTML report. */
    function renderReport(data) {
        var $ = function (id) { return document.getElementById(id); };
        var title = typeof data.title === 'string' && data.title ? data.title :
            'Test Report for ' + (data.locustfile || '');
        document.title = title;
        $('report-title').textContent = title;
        $('report-start').textContent = UI.fmtDateTime(data.start_time);
        $('report-end').textContent = UI.fmtDateTime(data.end_time);
        $('report-duration').textContent = UI.fmtDuration(data.duration);
        $('report-host').textContent = data.host === null || data.host === undefined ?
            'None' : String(data.host);
        $('report-script').textContent = data.locustfile || '';
        $('report-download').hidden = !data.show_download_link;

        var thresholds = Array.isArray(data.thresholds) ? data.thresholds : [];
        $('report-thresholds-section').hidden = !thresholds.length;
        $('report-thresholds-summary').textContent = UI.thresholdSummary(thresholds);
        new SortableTable($('report-thresholds'), UI.thresholdColumns).render(thresholds);

        var gen = data.generator || {};
        var genText = gen.limited ? 'The load generator, not the target, limited this test: ' +
            gen.reason + '.' : '';
        if (gen.iterations || gen.iterations_dropped)
            genText += (genText ? ' ' : '') + 'Open model: ' + UI.fmtTrunc(gen.iterations) +
                ' iterations started, ' + UI.fmtTrunc(gen.iterations_late) + ' late, ' +
                UI.fmtTrunc(gen.iterations_dropped) + ' dropped.';
        $('report-generator').hidden = !genText;
        $('report-generator').textContent = genText;

        var pin = {pinLast: UI.isAggregated};
        var statsColumns = [
            {key: 'method', label: 'Method', fmt: text('method')},
            {key: 'name', label: 'Name', fmt: text('name'), cls: 'name'},
            {key: 'num_requests', label: '# Requests', num: true,
             fmt: function (r) { return UI.fmtTrunc(r.num_requests); }},
            {key: 'num_failures', label: '# Fails', num: true,
             fmt: function (r) { return UI.fmtTrunc(r.num_failures); }},
            {key: 'avg_response_time', label: 'Average (ms)', num: true,
             fmt: function (r) { return UI.fmtTrunc(r.avg_response_time); }},
            {key: 'min_response_time', label: 'Min (ms)', num: true,
             fmt: function (r) { return UI.fmtTrunc(r.min_response_time || 0); }},
            {key: 'max_response_time', label: 'Max (ms)', num: true,
             fmt: function (r) { return UI.fmtTrunc(r.max_response_time); }},
            {key: 'avg_content_length', label: 'Average size (bytes)', num: true,
             fmt: function (r) { return UI.fmtTrunc(r.avg_content_length); }},
            {key: 'total_rps', label: 'RPS', num: true,
             fmt: function (r) { return UI.fmtFixed(r.total_rps, 1); }},
            {key: 'total_fail_per_sec', label: 'Failures/s', num: true,
             fmt: function (r) { return UI.fmtFixed(r.total_fail_per_sec, 1); }}
        ];
        var rows = Array.isArray(data.stats) ? data.stats : [];
        var intended = function (r) {
            var p = r.intended_start_percentiles;
            return p && isNum(p['0.99']) ? p['0.99'] : null;
        };
        if (rows.some(function (r) { return intended(r) !== null; }))
            statsColumns.splice(5, 0, {key: 'intended_p99', label: '99%ile from intended start (ms)',
                                       num: true, sortValue: intended,
                                       fmt: function (r) { return UI.fmtTrunc(intended(r)); }});
        new SortableTable($('report-stats'), statsColumns, pin).render(rows);

        var rts = Array.isArray(data.response_times) ? data.response_times : [];
        var keys = [];
        rts.forEach(function (r) {
            Object.keys(r.percentiles || {}).forEach(function (k) {
                if (keys.indexOf(k) < 0)
                    keys.push(k);
            });
        });
        if (!keys.length)
            keys = ['0.5', '0.6', '0.7', '0.8', '0.9', '0.95', '0.99', '1.0'];
        keys.sort(function (a, b) { return parseFloat(a) - parseFloat(b); });
        var rtCols = [
            {key: 'method', label: 'Method', fmt: text('method')},
            {key: 'name', label: 'Name', fmt: text('name'), cls: 'name'}
        ].concat(keys.map(function (k) {
            var pct = Math.round(parseFloat(k) * 1000) / 10;
            var get = function (r) { return (r.percentiles || {})[k]; };
            return {key: k, label: pct + '%ile (ms)', num: true, sortValue: get,
                    fmt: function (r) { return UI.fmtTrunc(get(r)); }};
        }));
        new SortableTable($('report-response-times'), rtCols, pin).render(rts);

        var timed = (Array.isArray(data.stats) ? data.stats : []).filter(function (r) {
            return r && r.timings;
        });
        $('report-timings-section').hidden = !timed.length;
        var timingStat = UI.TIMING_STATS[0].key;
        var timings = new SortableTable($('report-timings'),
                                        UI.timingColumns(function () { return timingStat; }),
                                        pin);
        timings.render(timed);
        UI.timingStatSelect($('report-timings-stat'), function (key) {
            timingStat = key;
            timings.render(timings.rows);
        });

        var failures = Array.isArray(data.failures) ? data.failures : [];
        $('report-failures-section').hidden = !failures.length;
        new SortableTable($('report-failures'), [
            {key: 'method', label: 'Method', fmt: text('method')},
            {key: 'name', label: 'Name', fmt: text('name'), cls: 'name'},
            {key: 'error', label: 'Error', fmt: text('error'), cls: 'wrap'},
            {key: 'occurrences', label: 'Occurrences', num: true,
             fmt: function (r) { return UI.fmtInt(r.occurrences); }}
        ]).render(failures);

        var exceptions = Array.isArray(data.exceptions) ? data.exceptions : [];
        $('report-exceptions-section').hidden = !exceptions.length;
        new SortableTable($('report-exceptions'), [
            {key: 'count', label: 'Count', num: true,
             fmt: function (r) { return UI.fmtInt(r.count); }},
            {key: 'msg', label: 'Message', fmt: text('msg'), cls: 'wrap'},
            {key: 'traceback', label: 'Traceback', fmt: text('traceback'), cls: 'pre'},
            {key: 'nodes', label: 'Nodes', fmt: text('nodes')}
        ]).render(exceptions);

        var history = data.history;
        var hasHistory = history && Array.isArray(history.points) && history.points.length;
        $('report-charts-section').hidden = !hasHistory;
        if (hasHistory && UI.chartsAvailable()) {
            var charts = new HistoryCharts({
                rps: $('chart-rps'), rt: $('chart-response-times'),
                users: $('chart-users'), perName: $('chart-per-name')
            });
            charts.add(history);
            charts.draw();
        }

        UI.renderRatio($('report-ratio'), data.tasks);
    }

    function startReport() {
        renderReport(window.cicadaReport || {});
    }

    if (window.cicadaReport) {
        if (document.readyState === 'loading')
            document.addEventListener('DOMContentLoaded', startReport);
        else
            startReport();
    }
})();
