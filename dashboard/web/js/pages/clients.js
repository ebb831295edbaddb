// Clients: the installation list with paging, and one installation's profile.
import * as api from '../api.js';
import { barOption, chartCard } from '../charts.js';
import * as state from '../state.js';
import { card, errorBox, h, table, tableCard } from '../ui.js';

const COLUMNS = ['clientId', 'prodVersion', 'prodEdition', 'licenseType', 'os.platform', 'geography.country', 'dateInstalled', 'dateLastSeen', 'lifetimeSessionCount', 'lifetimeRuntimeMinutes'];

export function clients(main, ctx) {
  const { params } = ctx;
  const at = params.get('at') || null;
  const back = state.jsonParam(params, 'back', []);
  const c = card(main, 'Installations', { id: 'clients', wide: true });
  const body = state.withFilters(params, { properties: COLUMNS.slice(1), pageSize: 50 });
  if (at) body.startAtClientId = at;
  api.post(ctx.base('/v3/reporting/clientPropertyList'), body).then(
    (r) => {
      c.clear();
      const rows = r.result.map((x) => COLUMNS.map((col) => (col === 'clientId' ? h('a', { href: state.href('client', { id: x.clientId }) }, x.clientId) : x[col])));
      c.body.append(
        rows.length ? table(COLUMNS, rows, { testid: 'clients' }) : h('p', { class: 'muted' }, 'No installations match.'),
        h(
          'nav',
          { class: 'pager', 'aria-label': 'Pages of installations' },
          at ? h('a', { href: state.href('clients', { at: back.length ? back[back.length - 1] : null, back: back.length > 1 ? back.slice(0, -1) : null }), id: 'clients-prev' }, '« Previous') : null,
          at ? h('a', { href: state.href('clients') }, 'First') : null,
          r.reachedEnd ? null : h('a', { href: state.href('clients', { at: r.nextClientId, back: at ? [...back, at] : back.length ? back : null }), id: 'clients-next' }, 'Next »'),
        ),
      );
      c.setRows([COLUMNS, ...r.result.map((x) => COLUMNS.map((col) => x[col]))]);
      c.done();
    },
    (err) => c.fail(err),
  );
}

export async function client(main, ctx) {
  const id = ctx.params.get('id');
  main.append(h('p', {}, h('a', { href: state.href('clients') }, '« All installations')));
  if (!id) {
    main.append(errorBox({ reason: 'No client id in the URL.' }));
    return;
  }
  let p;
  try {
    p = (await api.get(`${ctx.base('/v3/reporting/clientProfile')}?clientId=${encodeURIComponent(id)}`)).result;
  } catch (err) {
    main.append(errorBox(err));
    return;
  }
  const grid = h('div', { class: 'grid' });
  main.append(h('h2', { class: 'client-id', 'data-client': p.clientId }, `Installation ${p.clientId}`), grid);
  const st = p.status;
  tableCard(grid, 'Summary', ['Field', 'Value'], [
    ['Installed', p.dateInstalled],
    ['Last seen', p.dateLastSeen],
    ['Last sync', p.lastSyncAt ?? ''],
    ['Status', st.lost ? 'lost' : 'active'],
    ['Opted out', st.optOut.current ? 'yes' : st.optOut.historical ? 'previously' : 'no'],
    ['Backed off', st.backOff.current ? `until ${st.backOff.until ?? '?'}` : 'no'],
    ['Disabled', st.disabled ? 'yes' : 'no'],
    ['SDK', p.sdk ? `${p.sdk.name} ${p.sdk.version}` : ''],
    ['Sessions', p.lifetime.sessionCount],
    ['Runtime (minutes)', p.lifetime.runtimeMinutes],
    ['Active days', p.lifetime.activeDays],
    ['Events', p.lifetime.eventCount],
    ['Exceptions', p.lifetime.exceptionCount],
  ], { id: 'summary', testid: 'summary' });
  tableCard(grid, 'Properties', ['Property', 'Value'], Object.entries(p.properties).map(([k, v]) => [k, v]), { id: 'properties', testid: 'properties' });
  const usage = p.lifetime.eventUsage;
  const ev = chartCard(grid, 'Lifetime event usage', { id: 'event-usage', height: Math.max(200, usage.length * 22 + 60) });
  if (usage.length) {
    const names = usage.map((u) => `${u.eventCategory ?? '(no category)'} › ${u.eventName}`);
    ev.show(barOption(names, [{ name: 'occurrences', data: usage.map((u) => u.eventCount) }], { horizontal: true }), [
      ['category', 'event', 'count', 'first used', 'last used'],
      ...usage.map((u) => [u.eventCategory, u.eventName, u.eventCount, u.dateFirstUsed, u.dateLastUsed]),
    ]);
  } else ev.empty('No events.');
  tableCard(grid, 'Property history', ['Date', 'Property', 'Value'], p.propertyHistory.map((x) => [x.date, x.property, x.value]), { id: 'history', wide: true, testid: 'history' });
  tableCard(grid, 'Recent sessions', ['Start', 'End', 'Minutes', 'Closed', 'Session id'], p.recentSessions.map((s) => [s.start, s.end ?? '', s.runtimeMinutes, s.closed ? 'yes' : 'open', s.sessionId ?? '']), { id: 'sessions', testid: 'sessions' });
  tableCard(grid, 'Recent exceptions', ['Time', 'Class', 'Method', 'Message'], p.recentExceptions.map((x) => [x.timestamp, x.className, x.methodName, x.message]), { id: 'exceptions', testid: 'exceptions', empty: 'No exceptions.' });
}
