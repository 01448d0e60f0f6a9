// Tern dashboard: a login form, then views polled from the REST API (docs/rest-api.md) every 2 s.
// The login opens a session held in an HttpOnly cookie; requests that change something repeat the
// session's CSRF token in a header (docs/rest-api.md#dashboard-login). Everything the
// broker returns is put in the page as text (textContent), never as HTML: client ids, user names,
// topics and payloads come from MQTT clients.
'use strict';

(() => {
  const REFRESH_MS = 2000;
  const CHART_WINDOW_MS = 120000;
  const CHART_WIDTH = 600;
  const CHART_HEIGHT = 150;
  const TIME_TICK_MS = 30000;
  const SVG = 'http://www.w3.org/2000/svg';
  const RETAIN_HANDLING = ['send on subscribe', 'send if new', 'do not send'];
  const PAGE_SIZE = 50;
  const views = ['overview', 'clients', 'subscriptions', 'topics', 'retained', 'banned', 'users', 'acl', 'listeners', 'bridges', 'publish', 'websocket', 'trace', 'settings'];
  const USERS_PATH = '/authentication/password_based:built_in_database/users';
  const RULES_PATH = '/authorization/sources/built_in_database/rules';
  const WS_MAX_MESSAGES = 200;
  const PROTOCOLS = { 3: '3.1', 4: '3.1.1', 5: '5.0' };
  const LISTENER_TYPES = { mqtt: 'MQTT over TCP', mqtts: 'MQTT over TLS', ws: 'MQTT over WebSocket', wss: 'MQTT over secure WebSocket', http: 'Dashboard and REST API', https: 'Dashboard and REST API (HTTPS)' };
  const BAN_KINDS = { clientid: 'client ID', username: 'user name', peerhost: 'IP address', peerhost_net: 'IP range' };

  // A trace's log is read from where the last read ended, every second, up to 64 KiB at a time;
  // the page keeps its newest 512 KiB of lines.
  const TRACE_POLL_MS = 1000;
  const TRACE_READ_BYTES = 65536;
  const TRACE_KEEP_CHARS = 524288;

  // What each drop reason of /stats means (docs/rest-api.md#drop-reasons).
  const DROP_REASONS = {
    queue_full: 'a session queue was full (Broker:MaxQueuedMessages, Broker:MaxQueuedBytes)',
    qos0_queue_full: 'QoS 0 for a client too far behind (Broker:MaxQueuedQoS0Messages)',
    qos0_offline: 'QoS 0 for a disconnected client, whose session does not queue QoS 0',
    expired: 'the message expiry interval passed before it could be sent',
    too_large_for_client: 'larger than the maximum packet size the client accepts',
    session_ended: 'queued or in flight when its session ended',
    no_subscribers: 'no subscription matched the topic (not in the total)',
    not_authorized: 'a publish the ACL does not allow',
    retained_store_full: 'a retained message not stored (Broker:MaxRetainedMessages)',
    store_failed: 'a QoS 1/2 publish refused: the store cannot write (Persistence)',
    bridge_queue_full: 'a message for a bridge whose queue was full (Bridges:N:MaxQueued)',
  };

  // Persistence:Mode, as the overview's Store card says it.
  const STORE_MODES = {
    durable: 'durable (survives the broker being killed)',
    strict: 'strict (survives a loss of power too)',
    memory: 'memory (nothing is kept across restarts)',
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    session: null,
    view: 'overview',
    timer: 0,
    previous: null,
    rates: [],
    pages: { clients: 1, subscriptions: 1, topics: 1, retained: 1, banned: 1, users: 1 },
    filters: { subscriptions: '', retained: '', clients: { search: '', user: '', state: '' } },
    listeners: [],
    detail: null,
    retainedDetail: null,
    passwordUser: null,
    aclRows: new Map(),
    aclEdit: null,
    aclCheck: null,
    aclDecided: null,
    ws: null,
    trace: null,
  };

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // ---- REST API ---------------------------------------------------------------------------

  // A call to /api/v5 (the path without the prefix).
  const v5 = (method, path, body) => call(method, '/api/v5' + path, body);

  async function call(method, path, body) {
    // X-Requested-With: a refusal comes without a Basic challenge, so the browser never prompts.
    const headers = { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' };
    if (state.session && method !== 'GET') {
      headers['X-CSRF-Token'] = state.session.csrfToken;
    }

    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }

    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, 'The broker cannot be reached.');
    }

    if (response.status === 204) {
      return null;
    }

    const data = await response.json().catch(() => null);
    if (!response.ok) {
      throw new ApiError(response.status, (data && data.message) || `${response.status} ${response.statusText}`);
    }

    return data;
  }

  // ---- Login ------------------------------------------------------------------------------

  // The form's user name and password for a session cookie; a refusal stays on the form.
  async function logIn(username, password) {
    try {
      const session = await call('POST', '/api/dashboard/login', { username, password });
      await start(session);
    } catch (error) {
      showLogin(error.status === 401 ? 'Wrong user name or password.' : error.message);
    }
  }

  // A page opened with a session cookie still valid skips the form.
  async function resume() {
    try {
      await start(await call('GET', '/api/dashboard/session'));
    } catch (error) {
      showLogin(error.status === 401 ? '' : error.message);
    }
  }

  async function start(session) {
    state.session = session;
    const [nodes, listeners] = await Promise.all([v5('GET', '/nodes'), v5('GET', '/listeners')]);
    showApp({
      username: session.username,
      defaultPassword: session.defaultPassword,
      version: nodes[0].version,
      // EMQX's list is the MQTT listeners; the dashboard's own is where this page came from.
      listeners: [...listeners.map((l) => l.url), location.origin],
    });
  }

  async function logOut() {
    try {
      await call('POST', '/api/dashboard/logout');
    } catch {
      // The session ends on the broker anyway when it expires.
    }

    showLogin('');
  }

  function showLogin(message) {
    clearInterval(state.timer);
    state.timer = 0;
    closeTraceLog();
    state.session = null;
    state.ws?.disconnect();
    hideApiKeySecret();
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !message;
    $('login-error').textContent = message || '';
    $('login-password').value = '';
    $('login-password').focus();
  }

  function showApp(status) {
    $('login').hidden = true;
    $('app').hidden = false;
    $('who').textContent = status.username;
    $('banner-user').textContent = status.username;
    $('password-user').textContent = status.username;
    $('default-password-banner').hidden = !status.defaultPassword;
    $('fact-version').textContent = status.version;
    $('fact-listeners').textContent = status.listeners.join('  ·  ');
    state.listeners = status.listeners;
    if (!$('ws-url').value) {
      $('ws-url').value = webSocketUrl(status.listeners);
    }

    if (!$('ws-client-id').value) {
      $('ws-client-id').value = 'tern-dashboard-' + Math.random().toString(16).slice(2, 8);
    }

    state.previous = null;
    state.rates = [];
    showView(viewFromHash());
    clearInterval(state.timer);
    state.timer = setInterval(refresh, REFRESH_MS);
  }

  // ---- Views ------------------------------------------------------------------------------

  function viewFromHash() {
    const name = location.hash.replace('#', '');
    return views.includes(name) ? name : 'overview';
  }

  function showView(name) {
    state.view = name;
    for (const view of views) {
      $('view-' + view).hidden = view !== name;
    }

    document.querySelectorAll('.nav a').forEach((a) => a.classList.toggle('active', a.dataset.view === name));
    refresh();
  }

  async function refresh() {
    if (!state.session || document.hidden) {
      return;
    }

    try {
      const stats = await overview();
      renderStats(stats);
      if (state.view === 'clients') {
        renderClients(await listClients());
        if (state.detail) {
          await refreshDetail();
        }
      } else if (state.view === 'topics') {
        renderTopics(await v5('GET', `/topics?page=${state.pages.topics}&limit=${PAGE_SIZE}`), await v5('GET', '/subscriptions?limit=10000'));
      } else if (state.view === 'banned') {
        renderBanned(await v5('GET', `/banned?page=${state.pages.banned}&limit=${PAGE_SIZE}`));
      } else if (state.view === 'users') {
        await refreshUsers();
      } else if (state.view === 'acl') {
        renderAcl(await loadAcl());
      } else if (state.view === 'listeners') {
        renderListeners(state.listeners);
      } else if (state.view === 'bridges') {
        renderBridges(await v5('GET', '/bridges'));
      } else if (state.view === 'trace') {
        renderTraces(await v5('GET', '/trace'));
      } else if (state.view === 'settings') {
        renderApiKeys(await v5('GET', '/api_key'));
      } else if (state.view === 'subscriptions') {
        const client = state.filters.subscriptions ? `&clientid=${encodeURIComponent(state.filters.subscriptions)}` : '';
        const page = await v5('GET', `/subscriptions?page=${state.pages.subscriptions}&limit=${PAGE_SIZE}${client}`);
        renderSubscriptions({ data: page.data.map(fromV5Subscription), meta: page.meta });
      } else if (state.view === 'retained') {
        const topic = state.filters.retained ? `&topic=${encodeURIComponent(state.filters.retained)}` : '';
        const page = await v5('GET', `/mqtt/retainer/messages?page=${state.pages.retained}&limit=${PAGE_SIZE}${topic}`);
        renderRetained({ data: page.data.map(fromV5Retained), meta: page.meta });
      }

      $('connection-error').hidden = true;
    } catch (error) {
      if (error.status === 401) {
        showLogin('Your session has ended; log in again.');
        return;
      }

      $('connection-error').textContent = error.message;
      $('connection-error').hidden = false;
    }
  }

  // The overview's figures from EMQX's /stats and /metrics and the node (uptime, version, store).
  async function overview() {
    const [stats, metrics, nodes] = await Promise.all([
      v5('GET', '/stats?aggregate=true'),
      v5('GET', '/metrics?aggregate=true'),
      v5('GET', '/nodes'),
    ]);
    const node = nodes[0];
    const dropped = {};
    for (const [name, n] of Object.entries(metrics)) {
      if (name.startsWith('messages.dropped.')) {
        dropped[name.slice('messages.dropped.'.length)] = n;
      }
    }

    return {
      version: node.version,
      uptimeSeconds: Math.floor(node.uptime / 1000),
      connections: stats['connections.count'],
      sessions: stats['sessions.count'],
      subscriptions: stats['subscriptions.count'],
      retained: stats['retained.count'],
      messagesReceived: metrics['messages.received'],
      messagesSent: metrics['messages.sent'],
      bytesReceived: metrics['bytes.received'],
      bytesSent: metrics['bytes.sent'],
      messagesDropped: metrics['messages.dropped'],
      dropped,
      protocolErrors: metrics['packets.malformed'],
      internalErrors: metrics['client.closed.internal_error'],
      slowConsumersClosed: metrics['client.closed.slow_consumer'],
      connectionsTotal: metrics['client.connect'],
      connectionsRefused: metrics['client.connack.failure'],
      store: node.store && {
        mode: node.store.mode,
        path: node.store.path,
        sizeBytes: node.store.size_bytes,
        commits: node.store.commits,
        rowsWritten: node.store.rows_written,
        lastCommit: node.store.last_commit,
        failure: node.store.failure,
      },
    };
  }

  function renderStats(s) {
    setText('stat-connections', count(s.connections));
    setText('stat-sessions', count(s.sessions));
    setText('stat-subscriptions', count(s.subscriptions));
    setText('stat-retained', count(s.retained));
    setText('fact-uptime', duration(s.uptimeSeconds));
    setText('fact-received', count(s.messagesReceived));
    setText('fact-sent', count(s.messagesSent));
    setText('fact-bytes', `${bytes(s.bytesReceived)} / ${bytes(s.bytesSent)}`);
    setText('fact-dropped', count(s.messagesDropped));
    setText('fact-connections', count(s.connectionsTotal));
    setText('fact-errors', `${count(s.connectionsRefused)} / ${count(s.protocolErrors)}`);
    setText('fact-closed', `${count(s.internalErrors)} / ${count(s.slowConsumersClosed)}`);
    renderDropped(s.dropped);

    const now = performance.now();
    const previous = state.previous;
    state.previous = { at: now, received: s.messagesReceived, sent: s.messagesSent, commits: s.store?.commits };
    renderStore(s.store, previous, now);
    if (previous) {
      // Counters of a closing connection can move back for a moment; a rate is never negative.
      const seconds = Math.max((now - previous.at) / 1000, 0.001);
      const rateIn = Math.max(0, (s.messagesReceived - previous.received) / seconds);
      const rateOut = Math.max(0, (s.messagesSent - previous.sent) / seconds);
      setText('stat-rate-in', rate(rateIn));
      setText('stat-rate-out', rate(rateOut));
      state.rates.push({ at: Date.now(), in: rateIn, out: rateOut, conn: s.connections });
      while (state.rates.length > 0 && state.rates[0].at < Date.now() - CHART_WINDOW_MS) {
        state.rates.shift();
      }
    }

    drawChart('chart-in', 'in');
    drawChart('chart-out', 'out');
    drawChart('chart-conn', 'conn');
  }

  // The store (null in memory mode); commits per second from two samples, as the message rates.
  function renderStore(store, previous, now) {
    $('store-details').hidden = !store;
    if (!store) {
      setText('store-mode', STORE_MODES.memory);
      return;
    }

    setText('store-mode', STORE_MODES[store.mode] ?? store.mode);
    const status = $('store-status');
    status.classList.toggle('failure', store.failure != null);
    setText('store-status', store.failure == null
      ? 'ok'
      : `${store.failure} Nothing more is stored until Tern restarts; see its log.`);
    setText('store-path', store.path);
    setText('store-size', bytes(store.sizeBytes));
    setText('store-commits', `${count(store.commits)} / ${count(store.rowsWritten)}`);
    setText('store-last', store.lastCommit ? when(store.lastCommit) : 'none yet');
    if (previous && previous.commits != null) {
      const seconds = Math.max((now - previous.at) / 1000, 0.001);
      setText('store-rate', rate(Math.max(0, (store.commits - previous.commits) / seconds)));
    }
  }

  // Only the reasons that dropped something, in the order the broker lists them.
  function renderDropped(dropped) {
    const reasons = Object.entries(dropped).filter(([, n]) => n > 0).map(([reason, n]) => ({ reason, n }));
    renderRows('dropped-table', reasons, (r) => r.reason, [
      (r) => r.reason,
      (r) => count(r.n),
      (r) => DROP_REASONS[r.reason] ?? '',
    ]);
  }

  // One chart per series (received, sent), so that neither hides the other when they are equal:
  // the line over the last two minutes, a y axis in msg/s with round ticks, a time axis in local time.
  function drawChart(id, key) {
    const figure = $(id);
    const end = Date.now();
    const start = end - CHART_WINDOW_MS;
    const samples = state.rates.filter((r) => r.at >= start);
    const { top, step } = niceScale(Math.max(0, ...samples.map((r) => r[key])));
    const x = (t) => ((t - start) / CHART_WINDOW_MS) * CHART_WIDTH;
    const y = (v) => CHART_HEIGHT - (v / top) * CHART_HEIGHT;

    const line = samples.map((r) => `${x(r.at).toFixed(1)},${y(r[key]).toFixed(1)}`);
    figure.querySelector('.line').setAttribute('points', line.join(' '));
    const area = samples.length > 1
      ? [...line, `${x(samples[samples.length - 1].at).toFixed(1)},${CHART_HEIGHT}`, `${x(samples[0].at).toFixed(1)},${CHART_HEIGHT}`]
      : [];
    figure.querySelector('.area').setAttribute('points', area.join(' '));

    const grid = figure.querySelector('.grid');
    const yLabels = figure.querySelector('.y-labels');
    const xLabels = figure.querySelector('.x-labels');
    grid.replaceChildren();
    yLabels.replaceChildren();
    xLabels.replaceChildren();

    for (let v = 0; v <= top + step / 2; v += step) {
      grid.append(gridLine(0, y(v), CHART_WIDTH, y(v)));
      const label = document.createElement('span');
      label.textContent = tick(v);
      label.style.top = `${(1 - v / top) * 100}%`;
      yLabels.append(label);
    }

    for (let t = Math.ceil(start / TIME_TICK_MS) * TIME_TICK_MS; t <= end; t += TIME_TICK_MS) {
      grid.append(gridLine(x(t), 0, x(t), CHART_HEIGHT));
      const label = document.createElement('span');
      label.textContent = clock(t);
      const at = x(t) / CHART_WIDTH;
      label.style.left = `${at * 100}%`;

      // Labels at the ends lean inwards rather than spill out of the card.
      label.classList.toggle('start', at < 0.08);
      label.classList.toggle('end', at > 0.92);
      xLabels.append(label);
    }
  }

  function gridLine(x1, y1, x2, y2) {
    const line = document.createElementNS(SVG, 'line');
    line.setAttribute('x1', x1.toFixed(1));
    line.setAttribute('y1', y1.toFixed(1));
    line.setAttribute('x2', x2.toFixed(1));
    line.setAttribute('y2', y2.toFixed(1));
    return line;
  }

  // The axis top and tick step: 1, 2 or 5 times a power of ten, about four ticks, at least 0 to 1.
  function niceScale(max) {
    const raw = Math.max(max, 1) / 4;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * magnitude).find((m) => m >= raw);
    return { top: Math.max(1, Math.ceil(max / step) * step), step };
  }

  function renderClients(page) {
    renderRows('clients-table', page.data, (c) => `${c.clientId}\u0000${c.connected}`, [
      (c) => c.clientId,
      clientState,
      (c) => c.username ?? '',
      (c) => (c.connected ? c.remoteAddress ?? '' : '–'),
      (c) => (c.connected ? 'MQTT ' + c.protocolVersion : '–'),
      (c) => (!c.connected ? '–' : c.keepAlive ? `${c.keepAlive} s` : 'off'),
      (c) => when(c.connected ? c.connectedAt : c.disconnectedAt),
      sessionExpiry,
      queued,
      (c) => count(c.inflightMessages),
      (c) => ({ text: count(c.dropped), title: byReason(c.droppedByReason) }),
      (c) => (c.connected ? count(c.messagesReceived) : '–'),
      (c) => (c.connected ? count(c.messagesSent) : '–'),
      (c) => count(c.subscriptions),
    ], (row, c) => {
      row.dataset.clientId = c.clientId;
      row.dataset.state = c.connected ? 'connected' : 'disconnected';
      const actions = document.createElement('span');
      actions.className = 'actions';
      const details = document.createElement('button');
      details.type = 'button';
      details.className = 'details small';
      details.textContent = 'Details';
      details.addEventListener('click', () => openDetail(c.clientId));
      const button = document.createElement('button');
      button.type = 'button';
      actions.append(details, button);
      if (c.connected) {
        button.className = 'kick danger';
        button.textContent = 'Kick';
        button.title = 'Disconnect the client; a persistent session stays';
        button.addEventListener('click', () => removeClient(c.clientId, button, `Disconnect client "${c.clientId}"?`));
      } else {
        button.className = 'discard danger';
        button.textContent = 'Discard';
        button.title = 'End the session: its subscriptions and queued messages are dropped';
        button.addEventListener('click', () => removeClient(c.clientId, button,
          `Discard the session of "${c.clientId}"? Its subscriptions and queued messages are dropped.`));
      }

      return actions;
    });
    renderPager('clients', page.meta);
  }

  // EMQX's filters of /api/v5/clients.
  async function listClients() {
    const { search, user, state: connState } = state.filters.clients;
    const paging = `page=${state.pages.clients}&limit=${PAGE_SIZE}`;
    const query = [paging];
    if (search) {
      query.push('like_clientid=' + encodeURIComponent(search));
    }

    if (user) {
      query.push('username=' + encodeURIComponent(user));
    }

    if (connState) {
      query.push('conn_state=' + connState);
    }

    const page = await v5('GET', '/clients?' + query.join('&'));
    return { data: page.data.map(fromV5), meta: page.meta };
  }

  // A client of /api/v5 in the names the tables use.
  function fromV5(c) {
    const never = c.expiry_interval >= 4294967295;
    return {
      clientId: c.clientid,
      connected: c.connected,
      username: c.username,
      remoteAddress: c.ip_address ? `${c.ip_address}:${c.port}` : null,
      protocolVersion: PROTOCOLS[c.proto_ver] ?? String(c.proto_ver),
      keepAlive: c.keepalive,
      connectedAt: c.connected_at,
      disconnectedAt: c.disconnected_at,
      sessionExpiryInterval: never ? null : c.expiry_interval,
      sessionExpiresAt: !never && !c.connected && c.disconnected_at
        ? new Date(Date.parse(c.disconnected_at) + c.expiry_interval * 1000).toISOString()
        : null,
      queuedMessages: c.mqueue_len,
      inflightMessages: c.inflight_cnt,
      dropped: c['send_msg.dropped'],
      droppedByReason: c.dropped_by_reason,
      messagesReceived: c.recv_msg,
      messagesSent: c.send_msg,
      bytesReceived: c.recv_oct,
      bytesSent: c.send_oct,
      subscriptions: c.subscriptions_cnt,
      heldAcknowledgements: c.held_acknowledgements,
      slowedPublishers: c.slowed_publishers,
    };
  }

  // A subscription of /api/v5 in the names the table uses.
  function fromV5Subscription(s) {
    return {
      clientId: s.clientid,
      filter: s.topic,
      qos: s.qos,
      noLocal: s.nl === 1,
      retainAsPublished: s.rap === 1,
      retainHandling: s.rh,
      shareGroup: s.share_group ?? null,
      subscriptionIdentifier: s.subscription_identifier ?? null,
      online: s.online,
    };
  }

  // A retained message of /api/v5 in the names the table uses.
  function fromV5Retained(m) {
    return {
      topic: m.topic,
      qos: m.qos,
      size: m.payload_size,
      payload: m.preview.text,
      encoding: m.preview.encoding,
      truncated: m.preview.truncated,
      storedAt: m.publish_at,
    };
  }

  function openDetail(clientId) {
    state.detail = clientId;
    $('detail-client-id').textContent = clientId;
    $('client-detail').hidden = false;
    refreshDetail().then(() => $('client-detail').scrollIntoView({ block: 'nearest' }));
  }

  // The client and its subscriptions (EMQX's per-client list).
  async function refreshDetail() {
    const clientId = state.detail;
    const path = '/clients/' + encodeURIComponent(clientId);
    let c;
    let subscriptions;
    try {
      [c, subscriptions] = await Promise.all([v5('GET', path).then(fromV5), v5('GET', path + '/subscriptions')]);
    } catch (error) {
      if (error.status !== 404) {
        throw error;
      }

      c = null;
    }

    if (state.detail !== clientId) {
      return;
    }

    $('detail-gone').hidden = c !== null;
    $('detail-kick').disabled = c === null;
    if (c === null) {
      return;
    }

    $('detail-kick').textContent = c.connected ? 'Kick' : 'Discard session';
    setText('detail-state', clientState(c).text ?? clientState(c));
    setText('detail-username', c.username ?? '–');
    setText('detail-address', c.connected ? c.remoteAddress ?? '' : '–');
    setText('detail-protocol', c.connected ? 'MQTT ' + c.protocolVersion : '–');
    setText('detail-keepalive', !c.connected ? '–' : c.keepAlive ? `${c.keepAlive} s` : 'off');
    setText('detail-since', when(c.connected ? c.connectedAt : c.disconnectedAt));
    setText('detail-expiry', sessionExpiry(c));
    setText('detail-inflight', count(c.inflightMessages));
    const q = queued(c);
    setText('detail-queued', q.text ?? q);
    setText('detail-dropped', c.dropped ? `${count(c.dropped)} (${byReason(c.droppedByReason).replaceAll('\n', ', ')})` : '0');
    setText('detail-messages', `${count(c.messagesReceived)} / ${count(c.messagesSent)}`);
    setText('detail-bytes', `${bytes(c.bytesReceived)} / ${bytes(c.bytesSent)}`);
    renderRows('detail-subscriptions', subscriptions, (s) => s.topic, [
      (s) => s.topic,
      (s) => String(s.qos),
      (s) => (s.nl ? 'on' : 'off'),
      (s) => (s.rap ? 'on' : 'off'),
      (s) => `${s.rh} (${RETAIN_HANDLING[s.rh] ?? 'unknown'})`,
    ]);
  }

  function closeDetail() {
    state.detail = null;
    $('client-detail').hidden = true;
  }

  // Each subscribed filter, with how many subscriptions it has (shared ones included).
  function renderTopics(page, subscriptions) {
    const counts = new Map();
    subscriptions.data.forEach((s) => counts.set(s.topic, (counts.get(s.topic) ?? 0) + 1));
    renderRows('topics-table', page.data, (t) => t.topic, [
      (t) => t.topic,
      (t) => count(counts.get(t.topic) ?? 0),
      (t) => t.node,
    ]);
    renderPager('topics', page.meta);
    renderTopicTree(subscriptions.data);
  }

  // The subscribed filters as a tree of levels ('home' > 'kitchen' > '#'), each level with the
  // number of subscriptions at or below it. Rebuilt only when the subscriptions change.
  function renderTopicTree(subscriptions) {
    const root = { children: new Map(), count: 0 };
    for (const s of subscriptions) {
      let node = root;
      for (const level of s.topic.split('/')) {
        if (!node.children.has(level)) {
          node.children.set(level, { children: new Map(), count: 0 });
        }

        node = node.children.get(level);
        node.count++;
      }
    }

    const key = JSON.stringify(subscriptions.map((s) => s.topic).sort());
    const tree = $('topics-tree');
    if (tree.dataset.key === key) {
      return;
    }

    tree.dataset.key = key;
    tree.replaceChildren(...branch(root, ''));
  }

  function branch(node, path) {
    return [...node.children.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([level, child]) => {
        const item = document.createElement('li');
        const full = path ? `${path}/${level}` : level;
        item.dataset.path = full;
        const label = document.createElement('span');
        label.className = 'tree-level';
        label.textContent = level === '' ? '(empty level)' : level;
        const n = document.createElement('span');
        n.className = 'tree-count';
        n.textContent = count(child.count);
        item.append(label, n);
        if (child.children.size > 0) {
          const list = document.createElement('ul');
          list.append(...branch(child, full));
          item.append(list);
        }

        return item;
      });
  }

  function renderBanned(page) {
    renderRows('banned-table', page.data, (b) => `${b.as}\u0000${b.who}`, [
      (b) => BAN_KINDS[b.as] ?? b.as,
      (b) => b.who,
      (b) => b.reason,
      (b) => (b.at ? when(b.at) : '–'),
      (b) => (b.until === 'infinity' ? 'no end' : when(b.until)),
    ], (row, b) => {
      row.dataset.who = b.who;
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'unban danger';
      button.textContent = 'Delete';
      button.title = 'Lift the ban';
      button.addEventListener('click', async () => {
        if (!confirm(`Lift the ban of ${BAN_KINDS[b.as] ?? b.as} "${b.who}"?`)) {
          return;
        }

        button.disabled = true;
        try {
          await v5('DELETE', `/banned/${b.as}/${encodeURIComponent(b.who)}`);
        } catch (error) {
          if (error.status !== 404) {
            alert(`Could not lift the ban: ${error.message}`);
          }
        }

        refresh();
      });
      return button;
    });
    renderPager('banned', page.meta);
  }

  async function ban(event) {
    event.preventDefault();
    const result = $('ban-result');
    const minutes = Number($('ban-minutes').value);
    const body = { as: $('ban-as').value, who: $('ban-who').value.trim(), reason: $('ban-reason').value };
    if (minutes > 0) {
      body.until = new Date(Date.now() + minutes * 60000).toISOString();
    }

    result.className = '';
    result.textContent = '';
    $('ban-submit').disabled = true;
    try {
      await v5('POST', '/banned', body);
      result.className = 'ok';
      result.textContent = `Banned ${BAN_KINDS[body.as]} ${body.who}.`;
      $('ban-who').value = '';
      $('ban-reason').value = '';
      refresh();
    } catch (error) {
      result.className = 'form-error';
      result.textContent = error.message;
    } finally {
      $('ban-submit').disabled = false;
    }
  }

  // ---- Settings: password, API keys --------------------------------------------------------

  async function changePassword(event) {
    event.preventDefault();
    const result = $('password-result');
    result.className = '';
    result.textContent = '';
    if ($('password-new').value !== $('password-confirm').value) {
      result.className = 'form-error';
      result.textContent = 'The new password and its repetition differ.';
      return;
    }

    $('password-submit').disabled = true;
    try {
      await v5('POST', `/users/${encodeURIComponent(state.session.username)}/change_pwd`, { old_pwd: $('password-old').value, new_pwd: $('password-new').value });
      $('password-form').reset();
      $('default-password-banner').hidden = true;
      result.className = 'ok';
      result.textContent = 'Password changed. Other dashboard sessions and API tokens were logged out.';
    } catch (error) {
      result.className = 'form-error';
      result.textContent = error.message;
    } finally {
      $('password-submit').disabled = false;
    }
  }

  function renderApiKeys(keys) {
    renderRows('apikeys-table', keys, (k) => k.name, [
      (k) => k.name,
      (k) => k.api_key,
      (k) => k.desc || '–',
      (k) => when(k.created_at),
      (k) => (k.expired_at === 'infinity' ? 'never' : when(k.expired_at)),
      (k) => (k.expired ? 'expired' : k.enable ? 'enabled' : 'disabled'),
    ], (row, k) => {
      row.dataset.name = k.name;
      const actions = document.createElement('span');
      actions.className = 'actions';
      const toggle = document.createElement('button');
      toggle.type = 'button';
      toggle.className = 'toggle small';
      toggle.addEventListener('click', () => updateApiKey(row.dataset.name, { enable: row.dataset.enable !== 'true' }, toggle));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'delete danger';
      remove.textContent = 'Delete';
      remove.addEventListener('click', () => deleteApiKey(row.dataset.name, remove));
      actions.append(toggle, remove);
      return actions;
    });

    // The enable button follows the key's state, which changes without the row being rebuilt.
    for (const row of $('apikeys-table').tBodies[0].rows) {
      const key = keys.find((k) => k.name === row.dataset.name);
      row.dataset.enable = String(key.enable);
      row.dataset.status = key.expired ? 'expired' : key.enable ? 'enabled' : 'disabled';
      const toggle = row.querySelector('button.toggle');
      toggle.textContent = key.enable ? 'Disable' : 'Enable';
    }
  }

  async function createApiKey(event) {
    event.preventDefault();
    const result = $('apikey-result');
    const body = { name: $('apikey-name').value.trim(), desc: $('apikey-desc').value, expired_at: 'infinity' };
    if ($('apikey-expiry').value) {
      // The end of the chosen day, in this browser's time zone.
      const [y, m, d] = $('apikey-expiry').value.split('-').map(Number);
      body.expired_at = new Date(y, m - 1, d, 23, 59, 59).toISOString();
    }

    result.className = '';
    result.textContent = '';
    $('apikey-submit').disabled = true;
    try {
      const key = await v5('POST', '/api_key', body);
      $('apikey-created-key').textContent = key.api_key;
      $('apikey-created-secret').textContent = key.api_secret;
      $('apikey-created-basic').textContent = 'Authorization: Basic ' + btoa(`${key.api_key}:${key.api_secret}`);
      $('apikey-created').hidden = false;
      $('apikey-form').reset();
      refresh();
    } catch (error) {
      result.className = 'form-error';
      result.textContent = error.message;
    } finally {
      $('apikey-submit').disabled = false;
    }
  }

  // The secret leaves the page when dismissed or at log out.
  function hideApiKeySecret() {
    $('apikey-created').hidden = true;
    $('apikey-created-key').textContent = '';
    $('apikey-created-secret').textContent = '';
    $('apikey-created-basic').textContent = '';
  }

  async function updateApiKey(name, change, button) {
    button.disabled = true;
    try {
      await v5('PUT', '/api_key/' + encodeURIComponent(name), change);
    } catch (error) {
      alert(`Could not change the key ${name}: ${error.message}`);
    } finally {
      button.disabled = false;
    }

    refresh();
  }

  async function deleteApiKey(name, button) {
    if (!confirm(`Delete the API key "${name}"? Scripts that use it are refused from now on.`)) {
      return;
    }

    button.disabled = true;
    try {
      await v5('DELETE', '/api_key/' + encodeURIComponent(name));
    } catch (error) {
      if (error.status !== 404) {
        alert(`Could not delete the key ${name}: ${error.message}`);
      }
    }

    refresh();
  }

  // ---- Trace ------------------------------------------------------------------------------

  function renderTraces(traces) {
    renderRows('traces-table', traces, (t) => t.name, [
      (t) => t.name,
      (t) => (t.type === 'clientid' ? 'client ID' : 'topic'),
      (t) => t.clientid ?? t.topic,
      (t) => when(t.start_at),
      (t) => (t.end_at ? when(t.end_at) : 'no end'),
      (t) => t.status,
      (t) => bytes(Object.values(t.log_size).reduce((a, b) => a + b, 0)),
    ], (row, t) => {
      row.dataset.name = t.name;
      const actions = document.createElement('span');
      actions.className = 'actions';
      const view = document.createElement('button');
      view.type = 'button';
      view.className = 'view-log small';
      view.textContent = 'View log';
      view.addEventListener('click', () => openTraceLog(t.name));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'delete danger';
      remove.textContent = 'Delete';
      remove.title = 'Stop the trace and delete its log';
      remove.addEventListener('click', () => deleteTrace(t.name, remove));
      actions.append(view, remove);
      return actions;
    });
  }

  async function startTrace(event) {
    event.preventDefault();
    const result = $('trace-result');
    const type = $('trace-type').value;
    const body = { name: $('trace-name').value.trim(), type, [type]: $('trace-value').value.trim() };
    const minutes = Number($('trace-minutes').value);
    if (minutes > 0) {
      body.end_at = new Date(Date.now() + minutes * 60000).toISOString();
    }

    result.className = '';
    result.textContent = '';
    $('trace-submit').disabled = true;
    try {
      const trace = await v5('POST', '/trace', body);
      result.className = 'ok';
      result.textContent = `Tracing ${type === 'clientid' ? 'client' : 'topic'} ${body[type]}.`;
      $('trace-name').value = '';
      $('trace-value').value = '';
      await refresh();
      openTraceLog(trace.name);
    } catch (error) {
      result.className = 'form-error';
      result.textContent = error.message;
    } finally {
      $('trace-submit').disabled = false;
    }
  }

  async function deleteTrace(name, button) {
    if (!confirm(`Stop the trace "${name}" and delete its log?`)) {
      return;
    }

    button.disabled = true;
    try {
      await v5('DELETE', '/trace/' + encodeURIComponent(name));
    } catch (error) {
      if (error.status !== 404) {
        alert(`Could not delete the trace ${name}: ${error.message}`);
      }
    }

    if (state.trace?.name === name) {
      closeTraceLog();
    }

    refresh();
  }

  // Shows a trace's log from its start and follows it: each read goes on from the position the last one returned.
  function openTraceLog(name) {
    closeTraceLog();
    state.trace = { name, position: 0, reading: false, timer: setInterval(followTraceLog, TRACE_POLL_MS) };
    $('trace-log-name').textContent = name;
    $('trace-log').replaceChildren();
    $('trace-log-status').textContent = '';
    $('trace-log-card').hidden = false;
    $('trace-log-card').scrollIntoView({ block: 'nearest' });
    readTraceLog(state.trace);
  }

  function closeTraceLog() {
    if (state.trace) {
      clearInterval(state.trace.timer);
      state.trace = null;
    }

    $('trace-log-card').hidden = true;
  }

  function followTraceLog() {
    if (state.trace && state.view === 'trace' && $('trace-follow').checked && !document.hidden) {
      readTraceLog(state.trace);
    }
  }

  async function readTraceLog(trace) {
    if (trace.reading) {
      return;
    }

    trace.reading = true;
    try {
      // A burst may have written more than one read takes: read on until the end.
      for (let reads = 0; reads < 8 && state.trace === trace; reads++) {
        const piece = await v5('GET', `/trace/${encodeURIComponent(trace.name)}/log?position=${trace.position}&bytes=${TRACE_READ_BYTES}`);
        if (state.trace !== trace) {
          return;
        }

        trace.position = piece.meta.position;
        appendTraceLines(piece.items);
        if (piece.meta.bytes < TRACE_READ_BYTES / 2) {
          break;
        }
      }

      $('trace-log-status').textContent = `${bytes(trace.position)} read, following every second`;
    } catch (error) {
      if (state.trace === trace) {
        $('trace-log-status').textContent = error.status === 404 ? 'This trace has been deleted.' : error.message;
        if (error.status === 404) {
          clearInterval(trace.timer);
        }
      }
    } finally {
      trace.reading = false;
    }
  }

  // One element a line, classed by direction (in, out, drop) so that drops stand out.
  function appendTraceLines(text) {
    if (!text) {
      return;
    }

    const log = $('trace-log');
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    const fragment = document.createDocumentFragment();
    for (const line of text.split('\n')) {
      if (!line) {
        continue;
      }

      const div = document.createElement('div');
      div.className = 'trace-line ' + (line.split(/\s+/)[1] || '');
      div.textContent = line;
      fragment.append(div);
    }

    log.append(fragment);
    let kept = log.textContent.length;
    while (kept > TRACE_KEEP_CHARS && log.firstChild) {
      kept -= log.firstChild.textContent.length;
      log.firstChild.remove();
    }

    if (atBottom) {
      log.scrollTop = log.scrollHeight;
    }
  }

  // The listeners' URLs, as /api/v5/listeners gives them (ws://0.0.0.0:8083/mqtt).
  function renderListeners(urls) {
    const listeners = urls.map((url) => {
      const parsed = new URL(url);
      return {
        url,
        type: LISTENER_TYPES[parsed.protocol.replace(':', '')] ?? parsed.protocol,
        address: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: parsed.port,
        path: parsed.pathname === '/' && !url.endsWith('/') ? '' : parsed.pathname,
      };
    });
    renderRows('listeners-table', listeners, (l) => l.url, [
      (l) => l.type,
      (l) => l.address,
      (l) => l.port,
      (l) => l.path || '–',
      (l) => l.url,
    ]);
  }

  // GET /api/v5/bridges: one row per configured bridge, in configuration order.
  function renderBridges(bridges) {
    renderRows('bridges-table', bridges, (b) => b.name, [
      (b) => b.name,
      bridgeState,
      (b) => b.address,
      (b) => b.proto_ver,
      (b) => b.clientid,
      (b) => (b.connected_at ? when(b.connected_at) : '–'),
      (b) => ({ text: `${count(b.queued)} / ${count(b.max_queued)}`, className: b.queued >= b.max_queued ? 'failure' : '' }),
      (b) => count(b.sent),
      (b) => count(b.received),
      (b) => count(b.dropped),
      (b) => ({ text: b.last_error ?? '–', title: b.last_error ?? '' }),
    ]);
    const byName = new Map(bridges.map((b) => [b.name, b]));
    for (const row of $('bridges-table').tBodies[0].rows) {
      row.dataset.state = byName.get(row.dataset.key).connected ? 'connected' : 'disconnected';
    }
  }

  // The badge says up or down; the title says what the bridge is doing about it.
  function bridgeState(b) {
    if (b.connected) {
      return b.subscribed
        ? { text: 'connected', className: 'badge up' }
        : { text: 'connected', className: 'badge up', title: 'Its in rules are not subscribed on the remote yet' };
    }

    const doing = { waiting_reconnect: 'waiting to reconnect', connecting: 'connecting', stopped: 'stopped' }[b.state] ?? b.state;
    return { text: 'disconnected', className: 'badge down', title: `${doing}; messages for the remote are queued until it is back` };
  }

  // A publisher whose acknowledgements wait for a subscriber that is behind is slowed down.
  function clientState(c) {
    if (!c.connected) {
      return 'disconnected';
    }

    return c.heldAcknowledgements > 0
      ? { text: 'connected, slowed', title: `${plural(c.heldAcknowledgements, 'acknowledgement')} held back: a subscriber it publishes to is behind` }
      : 'connected';
  }

  // A subscriber past Broker:MaxQueuedMessages slows the publishers that feed it.
  function queued(c) {
    return c.slowedPublishers > 0
      ? { text: `${count(c.queuedMessages)} · slowing ${count(c.slowedPublishers)}`, title: `Its queue is full: ${plural(c.slowedPublishers, 'publisher')} held back for it` }
      : count(c.queuedMessages);
  }

  // "queue_full: 2" a line per reason, for a tooltip.
  function byReason(counts) {
    return Object.entries(counts).map(([reason, n]) => `${reason}: ${count(n)}`).join('\n');
  }

  // While connected: how long the session outlives the connection; once disconnected: when it ends.
  function sessionExpiry(c) {
    if (c.sessionExpiryInterval == null) {
      return 'never';
    }

    if (c.connected) {
      return c.sessionExpiryInterval ? duration(c.sessionExpiryInterval) : 'at disconnect';
    }

    return c.sessionExpiresAt ? when(c.sessionExpiresAt) : 'never';
  }

  function renderSubscriptions(page) {
    renderRows('subscriptions-table', page.data, (s) => `${s.clientId}\u0000${s.filter}`, [
      (s) => s.clientId,
      (s) => s.filter,
      (s) => String(s.qos),
      subscriptionOptions,
      (s) => (s.online ? 'online' : 'offline'),
    ]);
    renderPager('subscriptions', page.meta);
  }

  function subscriptionOptions(s) {
    const options = [
      `no local ${s.noLocal ? 'on' : 'off'}`,
      `retain as published ${s.retainAsPublished ? 'on' : 'off'}`,
      `retain handling ${s.retainHandling} (${RETAIN_HANDLING[s.retainHandling] ?? 'unknown'})`,
    ];
    if (s.shareGroup != null) {
      options.push(`shared group ${s.shareGroup}`);
    }

    if (s.subscriptionIdentifier != null) {
      options.push(`subscription id ${s.subscriptionIdentifier}`);
    }

    return options.join(' · ');
  }

  function renderRetained(page) {
    renderRows('retained-table', page.data, (m) => m.topic, [
      (m) => m.topic,
      (m) => String(m.qos),
      (m) => bytes(m.size),
      (m) => (m.encoding === 'base64' ? `base64: ${m.payload}` : m.payload) + (m.truncated ? ' …' : ''),
      (m) => when(m.storedAt),
    ], (row, m) => {
      row.dataset.topic = m.topic;
      const actions = document.createElement('span');
      actions.className = 'actions';
      const view = document.createElement('button');
      view.type = 'button';
      view.className = 'view-payload small';
      view.textContent = 'View';
      view.addEventListener('click', () => viewRetained(m.topic));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'delete danger';
      remove.textContent = 'Delete';
      remove.addEventListener('click', () => deleteRetained(m.topic, remove));
      actions.append(view, remove);
      return actions;
    });
    renderPager('retained', page.meta);
  }

  // Rows are kept by key and only their text changes, so a button is not replaced under a click.
  // A cell gives its text, or { text, title, className } for a tooltip or a look of its own.
  function renderRows(tableId, items, key, cells, action) {
    const table = $(tableId);
    const body = table.tBodies[0];
    const existing = new Map([...body.rows].map((row) => [row.dataset.key, row]));
    items.forEach((item, index) => {
      const k = key(item);
      let row = existing.get(k);
      if (!row) {
        row = document.createElement('tr');
        row.dataset.key = k;
        cells.forEach(() => row.insertCell());
        if (action) {
          row.insertCell().append(action(row, item));
        }
      }

      existing.delete(k);
      cells.forEach((cell, i) => {
        const value = cell(item);
        const { text, title = '', className } = typeof value === 'string' ? { text: value } : value;
        const td = row.cells[i];
        if (td.textContent !== text) {
          td.textContent = text;
        }

        if (className !== undefined && td.className !== className) {
          td.className = className;
        }

        if (!title) {
          td.removeAttribute('title');
        } else if (td.title !== title) {
          td.title = title;
        }
      });
      if (body.rows[index] !== row) {
        body.insertBefore(row, body.rows[index] || null);
      }
    });
    existing.forEach((row) => row.remove());
    table.closest('.table-card').querySelector('.empty').hidden = items.length > 0;
  }

  function renderPager(list, meta) {
    const pages = Math.max(1, Math.ceil(meta.count / meta.limit));
    const pager = document.querySelector(`.pager[data-list="${list}"]`);
    pager.querySelector('span').textContent = `${count(meta.count)} · page ${meta.page} of ${pages}`;
    pager.querySelector('[data-step="-1"]').disabled = meta.page <= 1;
    pager.querySelector('[data-step="1"]').disabled = meta.page >= pages;
  }

  // DELETE kicks a connected client and discards the session of a disconnected one.
  async function removeClient(clientId, button, question) {
    if (!confirm(question)) {
      return;
    }

    button.disabled = true;
    try {
      await v5('DELETE', '/clients/' + encodeURIComponent(clientId));
    } catch (error) {
      if (error.status !== 404) {
        alert(`Could not remove ${clientId}: ${error.message}`);
      }
    }

    refresh();
  }

  // The whole payload from /api/v5 (base64), shown as text, hex or indented JSON.
  async function viewRetained(topic) {
    try {
      const message = await v5('GET', '/mqtt/retainer/message/' + encodeURIComponent(topic));
      const binary = atob(message.payload ?? '');
      state.retainedDetail = { topic, bytes: Uint8Array.from(binary, (ch) => ch.charCodeAt(0)) };
      $('retained-detail-topic').textContent = topic;
      $('retained-detail').hidden = false;
      showPayload();
    } catch (error) {
      alert(`Could not read the retained message of ${topic}: ${error.message}`);
    }
  }

  function showPayload() {
    const detail = state.retainedDetail;
    if (!detail) {
      return;
    }

    const format = $('retained-format').value;
    const text = new TextDecoder().decode(detail.bytes);
    let shown = text;
    let problem = '';
    if (format === 'hex') {
      const hex = [...detail.bytes].map((b) => b.toString(16).padStart(2, '0'));
      const lines = [];
      for (let i = 0; i < hex.length; i += 16) {
        lines.push(`${i.toString(16).padStart(8, '0')}  ${hex.slice(i, i + 16).join(' ')}`);
      }

      shown = lines.join('\n');
    } else if (format === 'json') {
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch (error) {
        problem = `Not JSON: ${error.message}`;
      }
    }

    $('retained-payload').textContent = shown;
    $('retained-format-error').hidden = !problem;
    $('retained-format-error').textContent = problem;
  }

  async function deleteRetained(topic, button) {
    if (!confirm(`Delete the retained message of "${topic}"?`)) {
      return;
    }

    button.disabled = true;
    try {
      await v5('DELETE', '/mqtt/retainer/message/' + encodeURIComponent(topic));
      if (state.retainedDetail?.topic === topic) {
        state.retainedDetail = null;
        $('retained-detail').hidden = true;
      }
    } catch (error) {
      if (error.status !== 404) {
        alert(`Could not delete the retained message of ${topic}: ${error.message}`);
      }
    }

    refresh();
  }

  // ---- Users and ACL rules ----------------------------------------------------------------

  // The users file (Auth:UsersFile): without one the API answers 404 and the page says why.
  async function refreshUsers() {
    let page;
    try {
      page = await v5('GET', `${USERS_PATH}?page=${state.pages.users}&limit=${PAGE_SIZE}`);
    } catch (error) {
      if (error.status !== 404) {
        throw error;
      }

      $('users-error').textContent = `${error.message} Users can be added once Auth:UsersFile names one.`;
      $('users-error').hidden = false;
      $('user-form').hidden = true;
      return;
    }

    $('users-error').hidden = true;
    $('user-form').hidden = false;
    renderUsers(page);
  }

  function renderUsers(page) {
    renderRows('users-table', page.data, (u) => u.user_id, [
      (u) => u.user_id,
      (u) => (u.is_superuser ? 'yes' : 'no'),
    ], (row, u) => {
      row.dataset.user = u.user_id;
      const actions = document.createElement('span');
      actions.className = 'actions';
      const password = document.createElement('button');
      password.type = 'button';
      password.className = 'password small';
      password.textContent = 'Change password';
      password.addEventListener('click', () => openUserPassword(u.user_id));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'delete danger';
      remove.textContent = 'Delete';
      remove.addEventListener('click', () => deleteUser(u.user_id, remove));
      actions.append(password, remove);
      return actions;
    });
    renderPager('users', page.meta);
  }

  function showResult(id, ok, text) {
    const result = $(id);
    result.className = ok ? 'ok' : 'form-error';
    result.textContent = text;
  }

  async function addUser(event) {
    event.preventDefault();
    const userId = $('user-id').value.trim();
    $('user-submit').disabled = true;
    $('user-result').textContent = '';
    try {
      await v5('POST', USERS_PATH, { user_id: userId, password: $('user-password').value });
      showResult('user-result', true, `Added ${userId}; it can connect now.`);
      $('user-id').value = '';
      $('user-password').value = '';
      refresh();
    } catch (error) {
      showResult('user-result', false, error.message);
    } finally {
      $('user-submit').disabled = false;
    }
  }

  function openUserPassword(userId) {
    state.passwordUser = userId;
    $('user-password-user').textContent = userId;
    $('user-password-new').value = '';
    $('user-password-result').textContent = '';
    $('user-password-form').hidden = false;
    $('user-password-new').focus();
  }

  function closeUserPassword() {
    state.passwordUser = null;
    $('user-password-form').hidden = true;
  }

  async function changeUserPassword(event) {
    event.preventDefault();
    const userId = state.passwordUser;
    $('user-password-submit').disabled = true;
    try {
      await v5('PUT', `${USERS_PATH}/${encodeURIComponent(userId)}`, { password: $('user-password-new').value });
      closeUserPassword();
      showResult('user-result', true, `New password of ${userId} in force from its next CONNECT.`);
    } catch (error) {
      showResult('user-password-result', false, error.message);
    } finally {
      $('user-password-submit').disabled = false;
    }
  }

  async function deleteUser(userId, button) {
    if (!confirm(`Delete user "${userId}"? It can no longer connect; a connected client stays until it reconnects.`)) {
      return;
    }

    button.disabled = true;
    try {
      await v5('DELETE', `${USERS_PATH}/${encodeURIComponent(userId)}`);
      showResult('user-result', true, `Deleted ${userId}.`);
      if (state.passwordUser === userId) {
        closeUserPassword();
      }
    } catch (error) {
      button.disabled = false;
      showResult('user-result', false, error.message);
    }

    refresh();
  }

  // Every rule of the three lists, in the order the broker checks them: user names, client IDs, all.
  async function loadAcl() {
    const [users, clients, all] = await Promise.all([
      v5('GET', `${RULES_PATH}/users?limit=10000`),
      v5('GET', `${RULES_PATH}/clients?limit=10000`),
      v5('GET', `${RULES_PATH}/all`),
    ]);
    const rows = [];
    const add = (kind, who, rules) => rules.forEach((rule, index) => rows.push({ kind, who, index, last: index === rules.length - 1, rule }));
    users.data.forEach((o) => add('users', o.username, o.rules));
    clients.data.forEach((o) => add('clients', o.clientid, o.rules));
    add('all', null, all.rules);
    return rows;
  }

  const aclKey = (kind, who, index) => `${kind}\u0000${who ?? ''}\u0000${index}`;
  const aclOwner = (kind, who) => (kind === 'users' ? `user name ${who}` : kind === 'clients' ? `client ID ${who}` : 'all clients');
  const ruleText = (r) => `${r.permission} ${r.action} ${r.topic}`;

  function renderAcl(rows) {
    state.aclRows = new Map(rows.map((r) => [aclKey(r.kind, r.who, r.index), r]));
    renderRows('acl-table', rows, (r) => aclKey(r.kind, r.who, r.index), [
      (r) => aclOwner(r.kind, r.who),
      (r) => String(r.index + 1),
      (r) => r.rule.permission,
      (r) => r.rule.action,
      (r) => r.rule.topic,
    ], (row, r) => {
      row.dataset.kind = r.kind;
      row.dataset.who = r.who ?? '';
      row.dataset.index = String(r.index);
      const key = aclKey(r.kind, r.who, r.index);
      const actions = document.createElement('span');
      actions.className = 'actions';
      for (const [name, text, title, act] of [
        ['up', '↑', 'Move up: checked one place earlier', () => moveRule(key, -1)],
        ['down', '↓', 'Move down: checked one place later', () => moveRule(key, 1)],
        ['edit', 'Edit', 'Change this rule', () => editRule(key)],
      ]) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = `${name} small`;
        button.textContent = text;
        button.title = title;
        button.addEventListener('click', act);
        actions.append(button);
      }

      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'delete danger';
      remove.textContent = 'Delete';
      remove.addEventListener('click', () => deleteRule(key));
      actions.append(remove);
      return actions;
    });

    // Rows are kept by position: what can move changes with the list around them.
    for (const row of $('acl-table').tBodies[0].rows) {
      const r = state.aclRows.get(row.dataset.key);
      row.querySelector('button.up').disabled = r.index === 0;
      row.querySelector('button.down').disabled = r.last;
      row.classList.toggle('decided', row.dataset.key === state.aclDecided);
      row.dataset.permission = r.rule.permission;
    }
  }

  // The owner's rules as the broker has them now, so that a change never rests on a page two seconds old.
  async function currentRules(kind, who) {
    if (kind === 'all') {
      return { exists: true, rules: (await v5('GET', `${RULES_PATH}/all`)).rules };
    }

    try {
      return { exists: true, rules: (await v5('GET', `${RULES_PATH}/${kind}/${encodeURIComponent(who)}`)).rules };
    } catch (error) {
      if (error.status === 404) {
        return { exists: false, rules: [] };
      }

      throw error;
    }
  }

  // EMQX's API replaces an owner's whole list (PUT), adds an owner with POST, and removes one with DELETE.
  async function saveRules(kind, who, exists, rules) {
    const plain = rules.map((r) => ({ topic: r.topic, permission: r.permission, action: r.action }));
    if (kind === 'all') {
      await v5('PUT', `${RULES_PATH}/all`, { rules: plain });
    } else if (!exists) {
      await v5('POST', `${RULES_PATH}/${kind}`, [{ [kind === 'users' ? 'username' : 'clientid']: who, rules: plain }]);
    } else if (plain.length === 0) {
      await v5('DELETE', `${RULES_PATH}/${kind}/${encodeURIComponent(who)}`);
    } else {
      await v5('PUT', `${RULES_PATH}/${kind}/${encodeURIComponent(who)}`, { rules: plain });
    }
  }

  // Applies change(rules) to the list the row belongs to, if the row's rule is still where the page showed it.
  async function changeRules(key, change, done) {
    const shown = state.aclRows.get(key);
    if (!shown) {
      return;
    }

    try {
      const { exists, rules } = await currentRules(shown.kind, shown.who);
      const now = rules[shown.index];
      if (!now || ruleText(now) !== ruleText(shown.rule)) {
        throw new Error('The rules changed meanwhile; nothing was saved. Look again.');
      }

      await saveRules(shown.kind, shown.who, exists, change(rules, shown.index));
      showResult('acl-result', true, done(shown));
    } catch (error) {
      showResult('acl-result', false, error.message);
    }

    await refresh();
    await recheck();
  }

  function moveRule(key, step) {
    return changeRules(key, (rules, index) => {
      const moved = [...rules];
      [moved[index], moved[index + step]] = [moved[index + step], moved[index]];
      return moved;
    }, (r) => `Moved rule ${r.index + 1} of ${aclOwner(r.kind, r.who)} ${step < 0 ? 'up' : 'down'}.`);
  }

  function deleteRule(key) {
    const r = state.aclRows.get(key);
    if (!confirm(`Delete rule ${r.index + 1} of ${aclOwner(r.kind, r.who)} (${ruleText(r.rule)})?`)) {
      return Promise.resolve();
    }

    return changeRules(key, (rules, index) => rules.filter((_, i) => i !== index), (s) => `Deleted rule ${s.index + 1} of ${aclOwner(s.kind, s.who)}.`);
  }

  function editRule(key) {
    const r = state.aclRows.get(key);
    state.aclEdit = key;
    $('acl-kind').value = r.kind;
    $('acl-who').value = r.who ?? '';
    $('acl-permission').value = r.rule.permission;
    $('acl-action').value = r.rule.action;
    $('acl-topic').value = r.rule.topic;
    aclFormMode();
    $('acl-topic').focus();
  }

  function aclFormMode() {
    const editing = state.aclEdit !== null;
    $('acl-kind').disabled = editing;
    $('acl-who').disabled = editing || $('acl-kind').value === 'all';
    $('acl-who').required = $('acl-kind').value !== 'all';
    $('acl-submit').textContent = editing ? 'Save rule' : 'Add rule';
    $('acl-cancel').hidden = !editing;
  }

  function cancelEdit() {
    state.aclEdit = null;
    $('acl-topic').value = '';
    aclFormMode();
  }

  async function submitRule(event) {
    event.preventDefault();
    const rule = { topic: $('acl-topic').value.trim(), permission: $('acl-permission').value, action: $('acl-action').value };
    $('acl-submit').disabled = true;
    try {
      if (state.aclEdit !== null) {
        await changeRules(state.aclEdit, (rules, index) => rules.map((r, i) => (i === index ? rule : r)), (r) => `Saved rule ${r.index + 1} of ${aclOwner(r.kind, r.who)}.`);
        if ($('acl-result').className === 'ok') {
          cancelEdit();
        }

        return;
      }

      // A new rule goes last in its owner's list; move it up to have it checked earlier.
      const kind = $('acl-kind').value;
      const who = kind === 'all' ? null : $('acl-who').value.trim();
      try {
        const { exists, rules } = await currentRules(kind, who);
        await saveRules(kind, who, exists, [...rules, rule]);
        showResult('acl-result', true, `Added rule ${rules.length + 1} of ${aclOwner(kind, who)}.`);
        $('acl-topic').value = '';
      } catch (error) {
        showResult('acl-result', false, error.message);
      }

      await refresh();
      await recheck();
    } finally {
      $('acl-submit').disabled = false;
    }
  }

  async function checkAcl(event) {
    event.preventDefault();
    state.aclCheck = {
      clientid: $('acl-check-clientid').value.trim(),
      username: $('acl-check-username').value.trim() || null,
      topic: $('acl-check-topic').value.trim(),
      action: $('acl-check-action').value,
    };
    await recheck();
  }

  // The last check again, after a change on this page: the answer follows the rules.
  async function recheck() {
    if (!state.aclCheck) {
      return;
    }

    const verdict = $('acl-check-verdict');
    const reason = $('acl-check-reason');
    try {
      const answer = await v5('POST', '/authorization/check', state.aclCheck);
      verdict.textContent = answer.result;
      verdict.className = `verdict ${answer.result}`;
      reason.className = '';
      const rule = answer.rule;
      // A rule of this page by its place in the table; one from elsewhere by where it is written.
      if (rule?.list) {
        reason.textContent = `Rule ${rule.index + 1} of ${aclOwner(rule.list, rule.username ?? rule.clientid)} decides: ${ruleText(rule)}.`;
      } else {
        reason.textContent = rule ? `${rule.origin} decides: ${ruleText(rule)}.` : answer.reason;
      }
      state.aclDecided = answer.source === 'built_in_database' && rule?.list ? aclKey(rule.list, rule.username ?? rule.clientid ?? null, rule.index) : null;
    } catch (error) {
      verdict.textContent = '';
      verdict.className = '';
      reason.className = 'form-error';
      reason.textContent = error.message;
      state.aclDecided = null;
    }

    for (const row of $('acl-table').tBodies[0].rows) {
      row.classList.toggle('decided', row.dataset.key === state.aclDecided);
    }
  }

  // ---- WebSocket client ---------------------------------------------------------------------

  // The first WebSocket listener, with the host this page came from when it listens on every address.
  // A page served over HTTPS prefers wss://: browsers refuse ws:// from it (mixed content).
  function webSocketUrl(listeners) {
    const [first, second] = location.protocol === 'https:' ? ['wss://', 'ws://'] : ['ws://', 'wss://'];
    const ws = listeners.find((url) => url.startsWith(first)) ?? listeners.find((url) => url.startsWith(second));
    if (!ws) {
      return '';
    }

    const url = new URL(ws);
    if (url.hostname === '0.0.0.0' || url.hostname === '[::]') {
      url.hostname = location.hostname;
    }

    return url.toString();
  }

  function wsStatus(text, className) {
    const status = $('ws-status');
    status.textContent = text;
    status.className = className;
  }

  function wsConnected(connected) {
    $('ws-connect').disabled = connected;
    $('ws-disconnect').disabled = !connected;
    $('ws-subscribe').disabled = !connected;
    $('ws-publish').disabled = !connected;
  }

  function wsConnect(event) {
    event.preventDefault();
    if (state.ws) {
      return;
    }

    let client;
    try {
      client = new window.TernMqtt.MqttClient($('ws-url').value.trim(), {
        clientId: $('ws-client-id').value.trim(),
        username: $('ws-username').value,
        password: $('ws-password').value,
        keepAlive: Number($('ws-keepalive').value) || 0,
        cleanSession: $('ws-clean').checked,
      });
      state.ws = client;
      $('ws-connect').disabled = true;
      wsStatus('connecting…', '');
      client.onConnect = (sessionPresent) => {
        wsConnected(true);
        wsStatus(sessionPresent ? 'connected (session resumed)' : 'connected', 'connected');
      };
      client.onMessage = showWsMessage;
      client.onClose = (reason) => {
        state.ws = null;
        wsConnected(false);
        $('ws-subscriptions').replaceChildren();
        wsStatus(reason === 'disconnected' ? 'disconnected' : `disconnected: ${reason}`, reason === 'disconnected' ? '' : 'failure');
      };
      client.connect();
    } catch (error) {
      state.ws = null;
      wsConnected(false);
      wsStatus(error.message, 'failure');
    }
  }

  async function wsSubscribe(event) {
    event.preventDefault();
    const topic = $('ws-sub-topic').value.trim();
    const qos = Number($('ws-sub-qos').value);
    try {
      const granted = await state.ws.subscribe(topic, qos);
      const item = document.createElement('li');
      item.textContent = `${topic} (QoS ${granted})`;
      item.dataset.topic = topic;
      $('ws-subscriptions').append(item);
    } catch (error) {
      wsStatus(`subscribe to ${topic}: ${error.message}`, 'failure');
    }
  }

  async function wsPublish(event) {
    event.preventDefault();
    const topic = $('ws-pub-topic').value.trim();
    const qos = Number($('ws-pub-qos').value);
    const result = $('ws-pub-result');
    result.className = '';
    result.textContent = 'Publishing…';
    try {
      await state.ws.publish(topic, $('ws-pub-payload').value, qos, $('ws-pub-retain').checked);
      result.className = 'ok';
      result.textContent = qos ? `Published to ${topic}; the broker acknowledged it.` : `Published to ${topic}.`;
    } catch (error) {
      result.className = 'form-error';
      result.textContent = error.message;
    }
  }

  // Newest first; payloads as UTF-8 text, or hex when they are not valid UTF-8.
  function showWsMessage(message) {
    let payload;
    try {
      payload = new TextDecoder('utf-8', { fatal: true }).decode(message.payload);
    } catch {
      payload = 'hex: ' + [...message.payload].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    }

    const body = $('ws-messages').tBodies[0];
    const row = body.insertRow(0);
    [clock(Date.now()), message.topic, String(message.qos), message.retain ? 'yes' : 'no', payload].forEach((text) => {
      row.insertCell().textContent = text;
    });
    while (body.rows.length > WS_MAX_MESSAGES) {
      body.deleteRow(-1);
    }

    $('ws-messages').closest('.table-card').querySelector('.empty').hidden = true;
  }

  async function publish(event) {
    event.preventDefault();
    const result = $('publish-result');
    const topic = $('publish-topic').value;
    result.className = '';
    result.textContent = 'Publishing…';
    $('publish-submit').disabled = true;
    try {
      const answer = await v5('POST', '/publish', {
        topic,
        payload: $('publish-payload').value,
        qos: Number($('publish-qos').value),
        retain: $('publish-retain').checked,
      });
      result.className = 'ok';
      result.textContent = answer.id
        ? `Published to ${topic}.`
        : `Published to ${topic}; no subscription matched it.`;
    } catch (error) {
      result.className = 'form-error';
      result.textContent = error.message;
    } finally {
      $('publish-submit').disabled = false;
    }
  }

  // ---- Formatting -------------------------------------------------------------------------

  function setText(id, text) {
    const element = $(id);
    if (element.textContent !== text) {
      element.textContent = text;
    }
  }

  const count = (n) => Number(n).toLocaleString('en-US');
  const plural = (n, word) => `${count(n)} ${word}${n === 1 ? '' : 's'}`;
  const rate = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));

  // An axis tick: 0.5, 20, 1,500, 20k, 1.5M.
  function tick(n) {
    if (n >= 1e6) {
      return `${Number((n / 1e6).toFixed(2))}M`;
    }

    if (n >= 1e4) {
      return `${Number((n / 1e3).toFixed(1))}k`;
    }

    return Number(n.toFixed(2)).toLocaleString('en-US');
  }

  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }

    return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
  }

  const two = (n) => String(n).padStart(2, '0');

  // Local time as 2025-01-31 14:05:09: short, sortable, and the same in every locale.
  function when(iso) {
    const d = new Date(iso);
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${clock(d)}`;
  }

  function clock(time) {
    const d = new Date(time);
    return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  }

  function duration(seconds) {
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    return [d && `${d}d`, (d || h) && `${h}h`, (d || h || m) && `${m}m`, `${s}s`].filter(Boolean).join(' ');
  }

  // ---- Wiring -----------------------------------------------------------------------------

  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    $('login-submit').disabled = true;
    logIn($('login-username').value, $('login-password').value)
      .finally(() => { $('login-submit').disabled = false; });
  });
  $('logout').addEventListener('click', logOut);
  $('publish-form').addEventListener('submit', publish);
  $('subscriptions-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    state.filters.subscriptions = $('subscriptions-client').value.trim();
    state.pages.subscriptions = 1;
    refresh();
  });
  $('retained-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    state.filters.retained = $('retained-topic').value.trim();
    state.pages.retained = 1;
    refresh();
  });
  $('clients-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    state.filters.clients = { search: $('clients-search').value.trim(), user: $('clients-user').value.trim(), state: $('clients-state').value };
    state.pages.clients = 1;
    refresh();
  });
  $('detail-close').addEventListener('click', closeDetail);
  $('detail-kick').addEventListener('click', () => state.detail && removeClient(state.detail, $('detail-kick'),
    `Disconnect client "${state.detail}" (or discard its session if it is not connected)?`));
  $('retained-format').addEventListener('change', showPayload);
  $('retained-detail-close').addEventListener('click', () => {
    state.retainedDetail = null;
    $('retained-detail').hidden = true;
  });
  $('ban-form').addEventListener('submit', ban);
  $('user-form').addEventListener('submit', addUser);
  $('user-password-form').addEventListener('submit', changeUserPassword);
  $('user-password-cancel').addEventListener('click', closeUserPassword);
  $('acl-form').addEventListener('submit', submitRule);
  $('acl-cancel').addEventListener('click', cancelEdit);
  $('acl-kind').addEventListener('change', aclFormMode);
  $('acl-check-form').addEventListener('submit', checkAcl);
  aclFormMode();
  $('password-form').addEventListener('submit', changePassword);
  $('apikey-form').addEventListener('submit', createApiKey);
  $('apikey-created-close').addEventListener('click', hideApiKeySecret);
  $('trace-form').addEventListener('submit', startTrace);
  $('trace-type').addEventListener('change', () => {
    $('trace-value').placeholder = $('trace-type').value === 'clientid' ? 'client ID' : 'topic filter, e.g. sensors/#';
  });
  $('trace-log-close').addEventListener('click', closeTraceLog);
  $('trace-log-clear').addEventListener('click', () => $('trace-log').replaceChildren());
  $('ws-connect-form').addEventListener('submit', wsConnect);
  $('ws-disconnect').addEventListener('click', () => state.ws?.disconnect());
  $('ws-subscribe-form').addEventListener('submit', wsSubscribe);
  $('ws-publish-form').addEventListener('submit', wsPublish);
  $('ws-clear').addEventListener('click', () => {
    $('ws-messages').tBodies[0].replaceChildren();
    $('ws-messages').closest('.table-card').querySelector('.empty').hidden = false;
  });
  document.querySelectorAll('.pager').forEach((pager) => pager.addEventListener('click', (event) => {
    const step = Number(event.target.dataset.step || 0);
    if (step) {
      state.pages[pager.dataset.list] = Math.max(1, state.pages[pager.dataset.list] + step);
      refresh();
    }
  }));
  window.addEventListener('hashchange', () => state.session && showView(viewFromHash()));
  document.addEventListener('visibilitychange', refresh);

  resume();
})();
