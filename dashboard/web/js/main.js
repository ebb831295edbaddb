// The dashboard shell: login, product picker, date range, navigation and the page router.
import * as api from './api.js';
import { disposeAll } from './charts.js';
import { h, errorBox, field } from './ui.js';
import * as state from './state.js';
import overview from './pages/overview.js';
import explore from './pages/explore.js';
import engagement from './pages/engagement.js';
import events from './pages/events.js';
import { exceptions, customEvents } from './pages/lines.js';
import keys from './pages/keys.js';
import { clients, client } from './pages/clients.js';
import exportsPage from './pages/exports.js';

/** Every page: its title, whether it reads the date range, and its renderer. */
const PAGES = {
  overview: { title: 'Overview', range: true, render: overview },
  explore: { title: 'Explore', range: true, render: explore },
  engagement: { title: 'Engagement', range: true, render: engagement },
  events: { title: 'Events', range: true, render: events },
  exceptions: { title: 'Exceptions', render: exceptions },
  'custom-events': { title: 'Custom events', render: customEvents },
  keys: { title: 'License keys', render: keys },
  clients: { title: 'Clients', render: clients },
  client: { title: 'Client profile', nav: false, render: client },
  exports: { title: 'Exports', render: exportsPage },
};

const PRESETS = [7, 30, 90, 365];
const app = document.getElementById('app');
let sessionMessage = null;

window.addEventListener('usagi:unauthenticated', (e) => {
  if (!state.session()) return;
  state.clearSession();
  sessionMessage = e.detail && e.detail.reason;
  render();
});
window.addEventListener('hashchange', render);

function loginPage() {
  disposeAll();
  document.title = 'Sign in · Usagi';
  const user = h('input', { type: 'email', name: 'userName', autocomplete: 'username', required: true, autofocus: true });
  const pass = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const status = h('div', { 'aria-live': 'polite' }, sessionMessage ? errorBox({ reason: sessionMessage }) : null);
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: async (e) => {
        e.preventDefault();
        submit.disabled = true;
        status.replaceChildren(h('p', { class: 'muted' }, 'Signing in…'));
        try {
          const login = await api.login(user.value.trim(), pass.value);
          state.saveSession(login);
          sessionMessage = null;
          render();
        } catch (err) {
          status.replaceChildren(errorBox(err));
          submit.disabled = false;
        }
      },
    },
    h('h1', {}, 'Usagi'),
    h('p', { class: 'muted' }, 'Software usage intelligence'),
    field('Email', user),
    field('Password', pass),
    submit,
    status,
  );
  app.replaceChildren(h('main', { class: 'login-page' }, form));
}

function productPicker(current) {
  const products = state.session().products || {};
  const ids = Object.keys(products).sort();
  const sel = h(
    'select',
    { id: 'product', onchange: () => (location.hash = state.href(state.route().page === 'client' ? 'clients' : state.route().page, { p: sel.value }, true)) },
    ids.map((id) => h('option', { value: id, selected: id === current }, `${products[id].name} (${id})`)),
  );
  return h('div', { class: 'field inline' }, h('label', { for: 'product' }, 'Product'), sel);
}

function rangeBar(params) {
  const { startDate, stopDate } = state.range(params);
  const presets = PRESETS.map((n) =>
    h(
      'button',
      {
        type: 'button',
        'aria-pressed': String(startDate.toUpperCase() === `NOW-${n - 1}` && stopDate.toUpperCase() === 'NOW'),
        onclick: () => state.update({ start: `NOW-${n - 1}`, stop: 'NOW' }),
      },
      `${n} days`,
    ),
  );
  const start = h('input', { type: 'date', id: 'range-start', value: state.resolveDate(startDate), max: state.utcDay() });
  const stop = h('input', { type: 'date', id: 'range-stop', value: state.resolveDate(stopDate) });
  const apply = () => {
    if (start.value && stop.value) state.update({ start: start.value, stop: stop.value });
  };
  start.addEventListener('change', apply);
  stop.addEventListener('change', apply);
  return h(
    'div',
    { class: 'range', role: 'group', 'aria-label': 'Date range' },
    h('div', { class: 'segmented' }, presets),
    h('label', { for: 'range-start' }, 'From'),
    start,
    h('label', { for: 'range-stop' }, 'to'),
    stop,
  );
}

function filterChip(params) {
  const n = Object.keys(state.filters(params)).length;
  if (!n) return null;
  return h(
    'div',
    { class: 'chip', 'data-filters': n },
    h('a', { href: state.href('explore') }, `${n} filter${n > 1 ? 's' : ''} applied`),
    h('button', { type: 'button', class: 'small', onclick: () => state.update({ f: null }) }, 'Clear'),
  );
}

async function doLogout() {
  try {
    await api.logout();
  } catch {
    // Logout answers 204 whatever the session's state; a network error still ends it here.
  }
  state.clearSession();
  sessionMessage = null;
  location.hash = '#/overview';
  render();
}

function render() {
  const s = state.session();
  if (!s) return loginPage();
  const { page, params } = state.route();
  const def = PAGES[page] || PAGES.overview;
  const product = state.product(params);
  disposeAll();
  document.title = `${def.title} · Usagi`;
  const nav = h(
    'nav',
    { 'aria-label': 'Pages' },
    Object.entries(PAGES)
      .filter(([, d]) => d.nav !== false)
      .map(([name, d]) => h('a', { href: state.href(name), 'aria-current': name === page || (page === 'client' && name === 'clients') ? 'page' : null }, d.title)),
  );
  const top = h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: state.href('overview') }, 'Usagi'),
    product ? productPicker(product) : null,
    nav,
    h('div', { class: 'user' }, h('span', { class: 'muted' }, s.account && s.account.email), h('button', { type: 'button', class: 'small', id: 'logout', onclick: doLogout }, 'Log out')),
  );
  const main = h('main', { id: 'main' });
  const toolbar = h('div', { class: 'toolbar' }, h('h1', {}, def.title), def.range ? rangeBar(params) : null, filterChip(params));
  app.replaceChildren(top, toolbar, main);
  if (!product) {
    main.append(h('p', { class: 'error', role: 'alert' }, 'No product is visible to this account.'));
    return;
  }
  const ctx = { params, product, base: (path) => `${path}/${product}`, editable: state.canEdit(product), refresh: render };
  Promise.resolve(def.render(main, ctx)).catch((err) => main.append(errorBox(err)));
}

render();
