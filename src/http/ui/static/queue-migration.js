// Admin -> Queue Migration: the qmig sidecar's page inside the RabbitMQ 3.10 management UI.
// Loaded by the UI as an extension (the sidecar adds it to GET /api/extensions). Uses the UI's
// own machinery: NAVIGATION, dispatcher_add/sammy routes, render()/format() with templates from
// js/tmpl/queue-migration*.ejs, auth_header() for the logged-in user's credentials, the UI's
// formatters (fmt_string, fmt_state, alt_rows, ...) and popups (show_popup).
//
// Pages:
//   #/queue-migration                    vhost, compatibility check, start form, latest/running
//                                        migration (live), migration history, transfers
//   #/queue-migration/migration/:id      one migration: record, snapshots, queues (live)
//   #/queue-migration/transfer/:id       one transfer: record, queues (live)
// The plugin's own addresses land on the same pages, so its bookmarks and links keep working:
//   #/queue-migration/status             = #/queue-migration
//   #/queue-migration/status/:id         = #/queue-migration/migration/:id
// Live parts are refreshed every QMIG_POLL_MS while the page is shown (own timer, stopped as soon
// as the page is left); the UI's own refresh timer does not touch them (no .updatable sections).

var QMIG_POLL_MS = 2000;
var QMIG_MAX_QUEUE_ROWS = 200;
var QMIG_ACTIVE = ['pending', 'in_progress', 'paused'];
var QMIG_HISTORY_PAGE_SIZE = 20;

var qmig_state = {
    page: null,          // 'main' | 'migration' | 'transfer'
    id: null,            // migration or transfer id of a detail page
    vhost: null,         // vhost chosen on the main page
    timer: null,
    ticks: 0,
    latest_id: null,     // migration shown in the "Migration" section of the main page
    busy: {},            // requests in flight, by purpose (no pile-up when the broker is slow)
    history: [],         // the migrations list last read
    history_sort: null,  // column the history is sorted by (null: the API's order, newest first)
    history_reverse: false,
    history_page: 1,
    queues: [],          // eligible queues of the chosen vhost (start form)
    queues_vhost: null,
    checked: Object.create(null) // queue names ticked in the start form (no prototype: any name is a key)
};

NAVIGATION['Admin'][0]['Queue Migration'] = ['#/queue-migration', 'monitoring'];

HELP['qmig-help-skip-unsuitable'] =
    'When set, queues that fail the suitability checks are skipped (and listed with the reason) instead of blocking the whole migration.';
HELP['qmig-help-tolerance'] =
    'Message count tolerance in percent (0-100) for the per-queue verification. Empty: an exact match is required. Use it when publishers set per-message TTL, so that messages may expire during the migration.';
HELP['qmig-help-batch'] =
    'How many of the eligible queues this migration takes (empty, 0 or "all": every one) and in which order. Ignored when queues are picked below.';
HELP['qmig-help-queue-names'] =
    'Tick queues to migrate only those. Nothing ticked: every eligible queue (subject to the batch size).';
HELP['qmig-help-allow-ttl'] =
    'Accept fewer messages at the destination for queues whose messages carry a TTL (they may expire while being moved).';
HELP['qmig-help-default-queue-type'] =
    'Default queue type of the vhost to set once the migration has completed. On RabbitMQ 3.10 it can only be set when a vhost is created: the outcome is recorded in the migration notes.';

function qmig_show_main() {
    qmig_state.page = 'main';
    qmig_state.id = null;
    render({}, 'queue-migration', '#/queue-migration');
}

function qmig_show_migration(id) {
    qmig_state.page = 'migration';
    qmig_state.id = id;
    render({}, 'queue-migration-migration', '#/queue-migration');
}

dispatcher_add(function(sammy) {
    sammy.get('#/queue-migration', qmig_show_main);
    sammy.get('#/queue-migration/status', qmig_show_main);
    sammy.get('#/queue-migration/migration/:id', function() { qmig_show_migration(this.params['id']); });
    sammy.get('#/queue-migration/status/:id', function() { qmig_show_migration(this.params['id']); });
    sammy.get('#/queue-migration/transfer/:id', function() {
        qmig_state.page = 'transfer';
        qmig_state.id = this.params['id'];
        render({}, 'queue-migration-transfer', '#/queue-migration');
    });
});

// --- talking to the sidecar --------------------------------------------------------------------

// Asynchronous request to api<path> with the logged-in user's credentials. on_ok(json) for a
// 2xx answer, on_error(readable message, status) otherwise.
function qmig_request(method, path, body, on_ok, on_error) {
    var req = xmlHttpRequest();
    req.open(method, 'api' + path, true);
    var header = auth_header();
    if (header !== null) req.setRequestHeader('authorization', header);
    if (body !== null && body !== undefined) req.setRequestHeader('content-type', 'application/json');
    req.onreadystatechange = function() {
        if (req.readyState != 4) return;
        var json = null;
        try { json = JSON.parse(req.responseText); } catch (e) { json = null; }
        if (req.status >= 200 && req.status < 300) {
            on_ok(json);
        } else if (req.status == 401 && !has_auth_cookie_value()) {
            location.reload(); // the login expired: back to the login form, like the rest of the UI
        } else if (on_error) {
            on_error(qmig_error_text(req.status, json, req.responseText), req.status);
        }
    };
    req.send(body === null || body === undefined ? null : JSON.stringify(body));
}

// The readable sentence of an API error: its reason, never raw JSON.
function qmig_error_text(status, json, text) {
    if (status === 0) return 'The sidecar did not answer (is it running?).';
    var msg = '';
    if (json && typeof json === 'object') {
        if (typeof json.reason === 'string' && json.reason !== '') msg = json.reason;
        else if (typeof json.error === 'string') msg = json.error;
        if (json.problematic_queue_count !== undefined) {
            msg += ' (' + json.problematic_queue_count + ' queue(s): run the compatibility check to see which and why, or tick "Skip unsuitable queues")';
        }
        if (json.current_migration_id) msg += ' (migration ' + json.current_migration_id + ')';
        if (json.current_transfer_id) msg += ' (transfer ' + json.current_transfer_id + ')';
    }
    if (msg === '') msg = 'The request failed with HTTP status ' + status + (text && text.length < 200 && text.indexOf('<') == -1 ? ': ' + text : '');
    if (status == 403) msg = 'Not allowed: ' + msg;
    return msg;
}

function qmig_once(key, fn) {
    if (qmig_state.busy[key]) return;
    qmig_state.busy[key] = true;
    fn(function() { qmig_state.busy[key] = false; });
}

function qmig_warn(text) {
    show_popup('warn', fmt_escape_html(text));
}

function qmig_info(html) {
    show_popup('info', html);
}

function qmig_set(id, html) {
    var el = document.getElementById(id);
    if (el) el.innerHTML = html;
}

// --- formatting (used by the templates) --------------------------------------------------------

function qmig_status_colour(status) {
    switch (status) {
    case 'completed': return 'green';
    case 'passed': return 'green';
    case 'in_progress': return 'yellow';
    case 'pending': return 'yellow';
    case 'paused': return 'yellow';
    case 'scheduled': return 'blue';
    case 'draining': return 'blue';
    case 'cutting_over': return 'blue';
    case 'warning': return 'yellow';
    case 'failed': return 'red';
    case 'rollback_pending': return 'red';
    case 'error': return 'red';
    default: return 'grey'; // interrupted, skipped, cancelled, rollback_completed
    }
}

function qmig_fmt_status(status) {
    return fmt_state(qmig_status_colour(status), fmt_escape_html(String(status).replace(/_/g, ' ')));
}

function qmig_pct(n) {
    n = Math.floor(Number(n));
    if (!isFinite(n) || n < 0) n = 0;
    return Math.min(100, n);
}

// A progress bar in the UI's colours: green fill, red when failed, grey track.
function qmig_fmt_progress(pct, status, width) {
    pct = qmig_pct(pct);
    var cls = status == 'failed' || status == 'rollback_pending' ? 'qmig-bar-failed' :
        (status == 'interrupted' || status == 'cancelled' ? 'qmig-bar-stopped' : (pct >= 100 ? 'qmig-bar-done' : 'qmig-bar-running'));
    return '<div class="qmig-progress" style="width: ' + (width || 160) + 'px;" data-pct="' + pct + '">' +
        '<div class="qmig-progress-fill ' + cls + '" style="width: ' + pct + '%;"></div>' +
        '<span class="qmig-progress-text">' + pct + ' %</span></div>';
}

function qmig_fmt_ts(ts) {
    return ts ? fmt_escape_html(ts) : '<i>-</i>';
}

function qmig_fmt_num(n) {
    return (typeof n == 'number') ? fmt_num_thousands(n) : '<i>-</i>';
}

function qmig_link_migration(id, text) {
    return '<a href="#/queue-migration/migration/' + esc(id) + '">' + fmt_escape_html(text || id) + '</a>';
}

function qmig_link_transfer(id, text) {
    return '<a href="#/queue-migration/transfer/' + esc(id) + '">' + fmt_escape_html(text || id) + '</a>';
}

function qmig_is_active(status) {
    return QMIG_ACTIVE.indexOf(status) != -1;
}

function qmig_can_change() {
    return user_administrator || is_user_policymaker;
}

// Queues to show of a long list: the ones moving or failed first, at most QMIG_MAX_QUEUE_ROWS.
function qmig_visible_queues(queues) {
    var rank = {'in_progress': 0, 'failed': 1, 'pending': 2};
    var sorted = queues.slice(0).map(function(q, i) { return [q, i]; });
    sorted.sort(function(a, b) {
        var ra = rank[a[0].status] === undefined ? 3 : rank[a[0].status];
        var rb = rank[b[0].status] === undefined ? 3 : rank[b[0].status];
        return ra != rb ? ra - rb : a[1] - b[1];
    });
    return sorted.slice(0, QMIG_MAX_QUEUE_ROWS).map(function(x) { return x[0]; });
}

// --- page lifecycle ----------------------------------------------------------------------------

// Called by the templates' inline script each time the UI (re)renders one of the pages.
function qmig_page_ready(kind) {
    qmig_state.page = kind;
    qmig_state.ticks = 0;
    qmig_state.busy = {};
    if (kind == 'main') {
        qmig_load_vhosts();
        qmig_refresh_main(true);
    } else if (kind == 'migration') {
        qmig_refresh_migration();
    } else if (kind == 'transfer') {
        qmig_refresh_transfer();
    }
    if (qmig_state.timer === null) qmig_state.timer = setInterval(qmig_tick, QMIG_POLL_MS);
}

function qmig_tick() {
    var page = document.getElementById('qmig-page');
    if (!page || window.location.hash.indexOf('#/queue-migration') != 0) {
        clearInterval(qmig_state.timer); // the page was left
        qmig_state.timer = null;
        return;
    }
    qmig_state.ticks++;
    var kind = page.getAttribute('data-page');
    if (kind == 'main') qmig_refresh_main(false);
    else if (kind == 'migration') qmig_refresh_migration();
    else if (kind == 'transfer') qmig_refresh_transfer();
}

// --- main page ---------------------------------------------------------------------------------

function qmig_load_vhosts() {
    qmig_request('GET', '/vhosts?columns=name', null, function(vhosts) {
        var select = document.getElementById('qmig-vhost');
        if (!select) return;
        var names = vhosts.map(function(v) { return v.name; });
        var wanted = qmig_state.vhost;
        if (wanted === null || names.indexOf(wanted) == -1) {
            wanted = (current_vhost && names.indexOf(current_vhost) != -1) ? current_vhost : (names.indexOf('/') != -1 ? '/' : names[0]);
        }
        var html = '';
        for (var i = 0; i < names.length; i++) {
            html += '<option value="' + fmt_escape_html(names[i]) + '"' + (names[i] === wanted ? ' selected="selected"' : '') + '>' + fmt_escape_html(names[i]) + '</option>';
        }
        select.innerHTML = html;
        qmig_state.vhost = wanted;
        qmig_load_queues();
    }, function(msg) {
        qmig_set('qmig-vhost-error', '<p class="warning">Cannot list the virtual hosts: ' + fmt_escape_html(msg) + '</p>');
    });
}

function qmig_vhost_changed() {
    var select = document.getElementById('qmig-vhost');
    qmig_state.vhost = select.value;
    qmig_state.checked = Object.create(null);
    qmig_set('qmig-check-result', '');
    qmig_load_queues();
}

// Mirrored classic queues of the chosen vhost, for the queue picker of the start form.
function qmig_load_queues() {
    var vhost = qmig_state.vhost;
    if (vhost === null) return;
    qmig_set('qmig-queue-list', '<p><i>Loading queues of ' + fmt_escape_html(vhost) + '...</i></p>');
    qmig_request('GET', '/queues/' + esc(vhost) + '?columns=name,type,messages,effective_policy_definition,durable,exclusive', null, function(queues) {
        if (qmig_state.vhost !== vhost) return;
        var eligible = [];
        var others = 0;
        for (var i = 0; i < queues.length; i++) {
            var q = queues[i];
            var def = q.effective_policy_definition || {};
            if (q.type == 'classic' && def['ha-mode'] !== undefined && !q.exclusive) eligible.push(q);
            else others++;
        }
        eligible.sort(function(a, b) { return a.name < b.name ? -1 : (a.name > b.name ? 1 : 0); });
        qmig_state.queues = eligible;
        qmig_state.queues_vhost = vhost;
        qmig_set('qmig-queue-list', format('queue-migration-queues', {queues: eligible, others: others, checked: qmig_state.checked, filter: ''}));
        qmig_show_nothing_to_migrate(eligible.length == 0);
    }, function(msg) {
        qmig_set('qmig-queue-list', '<p class="warning">Cannot list the queues: ' + fmt_escape_html(msg) + '</p>');
    });
}

function qmig_filter_queues(input) {
    var f = input.value.toLowerCase();
    $('#qmig-queue-list tr.qmig-queue-row').each(function() {
        var name = ($(this).attr('data-name') || '').toLowerCase();
        $(this).toggle(f === '' || name.indexOf(f) != -1);
    });
}

function qmig_queue_ticked(box) {
    if (box.checked) qmig_state.checked[box.value] = true;
    else delete qmig_state.checked[box.value];
    var n = keys(qmig_state.checked).length;
    qmig_set('qmig-queue-count', n == 0 ? 'none ticked: every eligible queue' : n + ' ticked');
}

function qmig_tick_all(on) {
    $('#qmig-queue-list tr.qmig-queue-row:visible input[type=checkbox]').each(function() {
        this.checked = on;
        qmig_queue_ticked(this);
    });
}

function qmig_run_check() {
    var vhost = qmig_state.vhost;
    if (vhost === null) return;
    var skip = document.getElementById('qmig-check-skip').checked;
    var button = document.getElementById('qmig-check-button');
    button.disabled = true;
    qmig_set('qmig-check-result', '<p><i>Checking ' + fmt_escape_html(vhost) + '...</i></p>');
    qmig_request('POST', '/queue-migration/check/' + esc(vhost), {skip_unsuitable_queues: skip}, function(report) {
        button.disabled = false;
        var nothing = qmig_nothing_to_migrate(report);
        qmig_set('qmig-check-result', format('queue-migration-check', {report: report, nothing_to_migrate: nothing}));
        if (nothing) qmig_show_nothing_to_migrate(true);
    }, function(msg) {
        button.disabled = false;
        qmig_set('qmig-check-result', '<p class="warning">Check failed: ' + fmt_escape_html(msg) + '</p>');
    });
}

// The plan of a start with the form's options (POST plan/:vhost): total estimate and the queue table.
function qmig_run_plan() {
    var vhost = qmig_state.vhost;
    if (vhost === null) return;
    var button = document.getElementById('qmig-plan-button');
    button.disabled = true;
    qmig_set('qmig-plan-result', '<p><i>Planning ' + fmt_escape_html(vhost) + ' (the first plan calibrates on this cluster, about 10 s)...</i></p>');
    qmig_request('POST', '/queue-migration/plan/' + esc(vhost), qmig_start_body(), function(plan) {
        button.disabled = false;
        qmig_set('qmig-plan-result', qmig_plan_html(plan));
    }, function(msg) {
        button.disabled = false;
        qmig_set('qmig-plan-result', '<p class="warning">Plan failed: ' + fmt_escape_html(msg) + '</p>');
    });
}

function qmig_plan_html(plan) {
    var e = plan.estimate;
    var h = '<h3>Plan</h3><p id="qmig-plan-total">Estimated duration: <b>' + fmt_escape_html(String(e.seconds)) + ' s</b> (range ' +
        fmt_escape_html(String(e.low_seconds)) + '-' + fmt_escape_html(String(e.high_seconds)) + ' s, ' + plan.queues.length +
        ' queue(s), ' + plan.skipped.length + ' skipped; check ' + (plan.check.overall_ready ? 'passes' : 'fails') + ')</p>';
    h += '<table class="list" id="qmig-plan-queues"><thead><tr><th>#</th><th>Queue</th><th>Messages</th><th>Node</th><th>Est. s</th>' +
        '<th>Dropped arguments</th><th>Dropped policy keys</th></tr></thead><tbody>';
    for (var i = 0; i < plan.queues.length; i++) {
        var q = plan.queues[i];
        h += '<tr class="' + (i % 2 ? 'alt2' : 'alt1') + '"><td>' + (i + 1) + '</td><td>' + fmt_escape_html(q.name) + '</td><td>' + q.messages +
            '</td><td>' + fmt_escape_html(q.node || '-') + '</td><td>' + q.estimated_seconds + '</td><td>' +
            fmt_escape_html(q.dropped_arguments.join(', ') || '-') + '</td><td>' + fmt_escape_html(q.dropped_policy_keys.join(', ') || '-') + '</td></tr>';
    }
    return h + '</tbody></table>';
}

// The start request from the form; null (with a popup) when a field cannot be sent.
function qmig_start_body() {
    var body = {};
    body.skip_unsuitable_queues = document.getElementById('qmig-skip').checked;
    var tolerance = $.trim(document.getElementById('qmig-tolerance').value);
    if (tolerance !== '') body.tolerance = /^-?[0-9]+(\.[0-9]+)?$/.test(tolerance) ? parseFloat(tolerance) : tolerance;
    var batch = $.trim(document.getElementById('qmig-batch-size').value);
    if (batch !== '') body.batch_size = /^[0-9]+$/.test(batch) ? parseInt(batch, 10) : batch;
    body.batch_order = document.getElementById('qmig-batch-order').value;
    var names = keys(qmig_state.checked);
    if (names.length > 0) body.queue_names = names;
    body.allow_message_ttl = document.getElementById('qmig-allow-ttl').checked;
    var dqt = document.getElementById('qmig-default-queue-type').value;
    if (dqt !== '') body.set_default_queue_type = dqt;
    return body;
}

function qmig_start() {
    var vhost = qmig_state.vhost;
    if (vhost === null) return;
    var body = qmig_start_body();
    var what = body.queue_names ? body.queue_names.length + ' picked queue(s)' : 'the eligible queues';
    if (!confirm('Start migrating ' + what + ' of virtual host "' + vhost + '" to quorum queues?\n\n' +
                 'Application clients of the vhost are kept out while it runs.')) return;
    var button = document.getElementById('qmig-start-button');
    button.disabled = true;
    qmig_request('POST', '/queue-migration/start/' + esc(vhost), body, function(answer) {
        button.disabled = false;
        qmig_state.latest_id = answer.migration_id;
        qmig_state.checked = Object.create(null);
        qmig_info('Migration started: ' + qmig_link_migration(answer.migration_id));
        qmig_refresh_main(true);
        qmig_load_queues();
    }, function(msg) {
        button.disabled = false;
        qmig_warn('The migration was not started: ' + msg);
    });
}

function qmig_interrupt(id, status) {
    if (status == 'scheduled') {
        if (!confirm('Cancel this scheduled run?\n\nIt has not opened yet: nothing was changed on the broker, and it will not open.')) return;
        qmig_request('POST', '/queue-migration/interrupt/' + esc(id), null, function() {
            qmig_info('Scheduled run cancelled.');
            qmig_tick_now();
        }, function(msg) {
            qmig_warn('The scheduled run was not cancelled: ' + msg);
        });
        return;
    }
    if (!confirm('Interrupt this migration?\n\nQueues being migrated right now finish; the queues not started yet are skipped and stay mirrored classic queues.')) return;
    qmig_request('POST', '/queue-migration/interrupt/' + esc(id), null, function() {
        qmig_info('Interrupt requested: the queues in flight finish, the rest are skipped.');
        qmig_tick_now();
    }, function(msg) {
        qmig_warn('The migration was not interrupted: ' + msg);
    });
}

function qmig_undo(id) {
    if (!confirm('Roll this migration back?\n\nEvery queue it changed is moved back into a mirrored classic queue declared as it was (arguments, node, bindings; the mirroring policy applies again). Clients are fenced while the queues move, as during the migration. This takes about as long as the migration did.')) return;
    qmig_request('POST', '/queue-migration/rollback/' + esc(id), {reason: 'from the management UI'}, function(answer) {
        // Shown above like a migration started from this page.
        qmig_state.latest_id = answer.migration_id;
        qmig_info('Rollback started: ' + qmig_link_migration(answer.migration_id));
        qmig_refresh_main(true);
    }, function(msg) {
        qmig_warn('The rollback was not started: ' + msg);
    });
}

function qmig_mark_rollback_completed(id) {
    if (!confirm('Mark this migration as rolled back?\n\nDo this only once the cluster has been restored from the snapshots.')) return;
    qmig_request('POST', '/queue-migration/status/' + esc(id), {status: 'rollback_completed'}, function() {
        qmig_info('Migration marked rollback completed.');
        qmig_tick_now();
    }, function(msg) {
        qmig_warn('Not changed: ' + msg);
    });
}

function qmig_cancel_transfer(id) {
    if (!confirm('Cancel this transfer?\n\nThe queue being moved stops; queues not started stay where they are.')) return;
    qmig_request('POST', '/queue-migration/xfer/' + esc(id) + '/cancel', null, function() {
        qmig_info('Cancel requested.');
        qmig_tick_now();
    }, function(msg) {
        qmig_warn('The transfer was not cancelled: ' + msg);
    });
}

function qmig_cutover_drain(id) {
    if (!confirm('Cut this drain over?\n\nOnce every source queue has been empty, without consumers and without publishes for the drain\'s idle time, its links and temporary target user are removed.')) return;
    qmig_request('POST', '/queue-migration/bluegreen/cutover/' + esc(id), {}, function() {
        qmig_info('Cut-over requested: it completes once every source queue is idle.');
        qmig_tick_now();
    }, function(msg) {
        qmig_warn('The cut-over was not requested: ' + msg);
    });
}

function qmig_cancel_drain(id) {
    if (!confirm('Cancel this drain?\n\nIts links stop; messages already moved stay on the target, the rest on the source.')) return;
    qmig_request('POST', '/queue-migration/bluegreen/cancel/' + esc(id), {}, function() {
        qmig_info('Drain cancelled.');
        qmig_tick_now();
    }, function(msg) {
        qmig_warn('The drain was not cancelled: ' + msg);
    });
}

function qmig_tick_now() {
    var page = document.getElementById('qmig-page');
    if (!page) return;
    var kind = page.getAttribute('data-page');
    if (kind == 'main') qmig_refresh_main(true);
    else if (kind == 'migration') qmig_refresh_migration();
    else if (kind == 'transfer') qmig_refresh_transfer();
}

// History every tick (the reader caches it), the shown migration every tick, transfers every
// third tick (or at once when `all`).
function qmig_refresh_main(all) {
    qmig_once('history', function(done) {
        qmig_request('GET', '/queue-migration/status', null, function(answer) {
            done();
            var migrations = answer.migrations || [];
            qmig_state.history = migrations;
            qmig_render_history();
            // The one started from this page, else the running one, else the newest.
            var shown = null;
            if (qmig_state.latest_id !== null) {
                for (var j = 0; j < migrations.length; j++) if (migrations[j].id === qmig_state.latest_id) shown = migrations[j];
            }
            for (var i = 0; i < migrations.length && shown === null; i++) {
                if (qmig_is_active(migrations[i].status)) shown = migrations[i];
            }
            if (shown === null && migrations.length > 0) shown = migrations[0];
            if (shown === null) {
                qmig_set('qmig-running', '<p>No migration has run yet.</p>');
                return;
            }
            qmig_load_shown(shown.id);
        }, function(msg) {
            done();
            qmig_set('qmig-history', '<p class="warning">Cannot read the migrations: ' + fmt_escape_html(msg) + '</p>');
        });
    });
    if (all || qmig_state.ticks % 3 == 0) {
        qmig_once('transfers', function(done) {
            qmig_request('GET', '/queue-migration/xfer', null, function(answer) {
                done();
                qmig_set('qmig-transfers', format('queue-migration-transfers', {transfers: answer.transfers || []}));
            }, function(msg, status) {
                done();
                qmig_set('qmig-transfers', '<p class="warning">Cannot read the transfers: ' + fmt_escape_html(msg) + '</p>');
            });
        });
    }
    // Blue-green drains are administrators' (the section is only on their page).
    if (user_administrator && (all || qmig_state.ticks % 3 == 0)) {
        qmig_once('drains', function(done) {
            qmig_request('GET', '/queue-migration/bluegreen/status', null, function(answer) {
                done();
                qmig_set('qmig-drains', format('queue-migration-drains', {drains: answer || []}));
            }, function(msg) {
                done();
                qmig_set('qmig-drains', '<p class="warning">Cannot read the blue-green drains: ' + fmt_escape_html(msg) + '</p>');
            });
        });
    }
}

// --- history: sorted by a column (click its header; again: reversed), in pages ---------------------

var QMIG_HISTORY_COLUMNS = {
    display_id: function(m) { return String(m.display_id); },
    vhost: function(m) { return m.vhosts ? m.vhosts.join(', ') : String(m.vhost); },
    status: function(m) { return String(m.status); },
    progress_percentage: function(m) { return Number(m.progress_percentage) || 0; },
    started_at: function(m) { return m.started_at || ''; },
    completed_at: function(m) { return m.completed_at || ''; }
};

// The migrations in the chosen order (stable: equal keys keep the API's newest-first order).
function qmig_sorted_history(migrations, column, reverse) {
    var key = QMIG_HISTORY_COLUMNS[column];
    var indexed = migrations.map(function(m, i) { return [m, i]; });
    if (key) {
        indexed.sort(function(a, b) {
            var ka = key(a[0]), kb = key(b[0]);
            var c = ka < kb ? -1 : (ka > kb ? 1 : 0);
            return (reverse ? -c : c) || a[1] - b[1];
        });
    }
    return indexed.map(function(x) { return x[0]; });
}

function qmig_sort_history(column) {
    if (qmig_state.history_sort === column) qmig_state.history_reverse = !qmig_state.history_reverse;
    else {
        qmig_state.history_sort = column;
        // Times and progress read best newest/highest first; names A to Z.
        qmig_state.history_reverse = column == 'started_at' || column == 'completed_at' || column == 'progress_percentage';
    }
    qmig_state.history_page = 1;
    qmig_render_history();
}

function qmig_history_page(page) {
    qmig_state.history_page = page;
    qmig_render_history();
}

// A sortable column header: the UI's own sort arrow look.
function qmig_fmt_sort_header(label, column) {
    var arrow = qmig_state.history_sort === column ? '<span class="arrow">' + (qmig_state.history_reverse ? '&#9660; ' : '&#9650; ') + '</span>' : '';
    return '<a class="qmig-sort" href="javascript:void(0)" data-sort="' + column + '" onclick="qmig_sort_history(\'' + column + '\')">' + arrow + fmt_escape_html(label) + '</a>';
}

function qmig_render_history() {
    var all = qmig_sorted_history(qmig_state.history || [], qmig_state.history_sort, qmig_state.history_reverse);
    var pages = Math.max(1, Math.ceil(all.length / QMIG_HISTORY_PAGE_SIZE));
    var page = Math.min(Math.max(1, qmig_state.history_page), pages);
    qmig_state.history_page = page;
    qmig_set('qmig-history', format('queue-migration-history', {
        migrations: all.slice((page - 1) * QMIG_HISTORY_PAGE_SIZE, page * QMIG_HISTORY_PAGE_SIZE),
        total: all.length, page: page, pages: pages
    }));
}

// --- "nothing to migrate": a vhost without mirrored classic queues is not "not ready" ------------

// The check found no mirrored classic queue at all (the API answer stays the plugin's).
function qmig_nothing_to_migrate(report) {
    return !!report && !!report.queue_checks && report.queue_checks.summary.total_queues === 0;
}

function qmig_show_nothing_to_migrate(nothing) {
    var button = document.getElementById('qmig-start-button');
    if (button) button.disabled = nothing;
    qmig_set('qmig-start-note', nothing ? '<p class="qmig-nothing">Nothing to migrate: this virtual host has no mirrored classic queue.</p>' : '');
}

function qmig_load_shown(id) {
    qmig_once('shown', function(done) {
        qmig_request('GET', '/queue-migration/status/' + esc(id), null, function(detail) {
            done();
            qmig_set('qmig-running', format('queue-migration-progress', {detail: detail, compact: true}));
            // The list may be a beat behind the migration's own record: show the newer one in both.
            var history = qmig_state.history || [];
            for (var i = 0; i < history.length; i++) {
                if (history[i].id === detail.migration.id && (history[i].status !== detail.migration.status ||
                                                              history[i].progress_percentage !== detail.migration.progress_percentage)) {
                    history[i] = detail.migration;
                    qmig_render_history();
                }
            }
        }, function(msg) {
            done();
            qmig_set('qmig-running', '<p class="warning">Cannot read migration ' + fmt_escape_html(id) + ': ' + fmt_escape_html(msg) + '</p>');
        });
    });
}

// --- detail pages ------------------------------------------------------------------------------

function qmig_refresh_migration() {
    var id = qmig_state.id;
    qmig_once('detail', function(done) {
        qmig_request('GET', '/queue-migration/status/' + esc(id), null, function(detail) {
            done();
            var title = document.getElementById('qmig-title');
            if (title) title.textContent = 'Queue Migration: ' + detail.migration.display_id;
            qmig_set('qmig-detail', format('queue-migration-progress', {detail: detail, compact: false}));
        }, function(msg, status) {
            done();
            qmig_set('qmig-detail', '<p class="warning">' + (status == 404 ? 'There is no migration with this id.' : 'Cannot read the migration: ' + fmt_escape_html(msg)) + '</p>');
        });
    });
}

function qmig_refresh_transfer() {
    var id = qmig_state.id;
    qmig_once('detail', function(done) {
        qmig_request('GET', '/queue-migration/xfer/' + esc(id), null, function(transfer) {
            done();
            qmig_set('qmig-detail', format('queue-migration-transfer-detail', {transfer: transfer}));
        }, function(msg, status) {
            done();
            qmig_set('qmig-detail', '<p class="warning">' + (status == 404 ? 'There is no transfer with this id.' : 'Cannot read the transfer: ' + fmt_escape_html(msg)) + '</p>');
        });
    });
}

// --- look --------------------------------------------------------------------------------------

(function() {
    if (document.getElementById('qmig-style')) return;
    var css =
        'div.qmig-progress { position: relative; height: 18px; background: #ddd; border-radius: 3px; overflow: hidden; display: inline-block; vertical-align: middle; }' +
        'div.qmig-progress-fill { position: absolute; left: 0; top: 0; bottom: 0; }' +
        'div.qmig-bar-running { background: #98f898; }' +
        'div.qmig-bar-done { background: #98f898; }' +
        'div.qmig-bar-failed { background: #ff7a7a; }' +
        'div.qmig-bar-stopped { background: #ffff7b; }' +
        'span.qmig-progress-text { position: relative; display: block; text-align: center; line-height: 18px; font-size: 11px; padding: 0; margin: 0; }' +
        'div.qmig-queue-picker { max-height: 260px; overflow-y: auto; border: 1px solid #ddd; margin: 5px 0; }' +
        'table.qmig-facts th { text-align: right; padding-right: 10px; }' +
        'div.qmig-actions button { display: inline-block; margin: 10px 10px 0 0; }' +
        'p.qmig-note { margin: 3px 0; }' +
        'a.qmig-sort { cursor: pointer; }' +
        'p.qmig-pager button { margin: 0 10px; }' +
        'p.qmig-nothing { color: #666; font-style: italic; }' +
        'h3.qmig-overall { margin-top: 10px; }';
    var style = document.createElement('style');
    style.id = 'qmig-style';
    style.appendChild(document.createTextNode(css));
    document.getElementsByTagName('head')[0].appendChild(style);
})();
