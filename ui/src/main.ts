// The enumerator's app: a hash router over the screens, the sync banner, and the language.
// The screen and the language are kept by the app (ui_state) so they survive a restart.

import '@fontsource/noto-sans/latin-400.css';
import '@fontsource/noto-sans/latin-700.css';
import '@fontsource/noto-sans/latin-ext-400.css';
import '@fontsource/noto-sans/latin-ext-700.css';
import '@fontsource/noto-sans/vietnamese-400.css';
import '@fontsource/noto-sans/vietnamese-700.css';
import './style.css';

import { api, useCampaign, type CommandError, type Overview, type Tablet } from './api';
import { h, clear, setText } from './dom';
import { formatTime, lang, setLang, setTimeZone, t, type Lang } from './i18n';
import { campaignOf, href, parseRoute, type Route } from './route';
import * as screens from './screens';
import { banner } from './rejections';

const root = document.getElementById('app') as HTMLElement;
let overview: Tablet | null = null;
let readyReported = false;
let syncLine = '';
/** When the automatic sync tries again, as people read it, while the centre cannot be reached. */
let retryAt: string | null = null;

export function errorText(e: unknown): string {
  const err = e as CommandError;
  if (err && typeof err.code === 'string') {
    const key = `e_${err.code}`;
    const known = ['e_network', 'e_enrollment_code_invalid', 'e_enrollment_code_expired', 'e_enrollment_code_used', 'e_rate_limited', 'e_device_revoked', 'e_illegal_step', 'e_not_allowed', 'e_incomplete', 'e_not_enrolled', 'e_campaign_on_tablet', 'e_key_already_enrolled', 'e_unknown_campaign', 'e_already_enrolled', 'e_newer_database', 'e_corrupt_database', 'e_storage', 'e_not_intake'];
    if (known.includes(key)) return t(key as 'e_network', { message: err.message });
    return t('e_other', { message: err.message });
  }
  return t('e_other', { message: String(e) });
}

function saveState(route: string): void {
  api.uiStateSet({ route, lang: lang() }).catch(() => undefined);
}

function nav(current: Route): HTMLElement {
  const link = (id: string, href: string, label: string, active: boolean) => h('a', { id, href, class: active ? 'active' : '' }, label);
  const pending = overview?.pending.events_total ?? 0;
  return h(
    'header',
    {},
    h(
      'nav',
      {},
      h('strong', { class: 'brand' }, t('app')),
      overview?.enrolled ? link('nav-today', '#/today', t('nav_today'), current.name === 'today' || current.name === 'village') : null,
      overview?.enrolled ? link('nav-parcels', href({ name: 'parcels' }), t('nav_parcels'), current.name === 'parcels') : null,
      overview?.enrolled ? link('nav-sync', '#/sync', t('nav_sync'), current.name === 'sync') : link('nav-setup', '#/setup', t('nav_setup'), true),
      h('span', { class: 'spacer' }),
      h(
        'button',
        {
          id: 'lang',
          class: 'quiet',
          onclick: () => {
            setLang(lang() === 'vi' ? 'en' : 'vi');
            saveState(location.hash);
            void render();
          },
        },
        t('language'),
      ),
    ),
    overview?.enrolled
      ? (() => {
          const b = banner(pending, overview?.rejected ?? 0, retryAt);
          return h('a', { id: 'sync-banner', href: '#/sync', class: b.cls }, syncLine || b.text);
        })()
      : null,
  );
}

/** Writes the sync banner's words and colour anew from `tablet`, where it is shown, without
 * redrawing the screen under it. */
function redrawBanner(tablet: Tablet): void {
  const shown = document.getElementById('sync-banner');
  if (!shown) return;
  const b = banner(tablet.pending.events_total, tablet.rejected, retryAt);
  setText(shown, b.text);
  if (shown.className !== b.cls) shown.className = b.cls;
}

/** The route of the screen in front, to tell a redraw of it from a move to another. */
let drawnRoute: string | null = null;

interface Typed {
  id: string;
  /** The person changed it (a box's default is what the screen drew). */
  changed: boolean;
  value: string;
  checked: boolean;
  focused: boolean;
  start: number | null;
  end: number | null;
}

/** What a person typed in the screen's boxes (by id), and where the cursor is. */
function typedIn(scope: HTMLElement): Typed[] {
  return [...scope.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('input[id], textarea[id]')].map((el) => {
    const text = !(el instanceof HTMLInputElement) || ['text', 'search', 'number', 'tel', ''].includes(el.type);
    const changed = el instanceof HTMLInputElement && (el.type === 'checkbox' || el.type === 'radio') ? el.checked !== el.defaultChecked : el.value !== el.defaultValue;
    return {
      id: el.id,
      changed,
      value: el.value,
      checked: el instanceof HTMLInputElement && el.checked,
      focused: document.activeElement === el,
      start: text ? el.selectionStart : null,
      end: text ? el.selectionEnd : null,
    };
  });
}

/** Puts typed text, ticks and the cursor back into the new screen's boxes of the same ids;
 * whether the focus was put back. */
function putBack(scope: HTMLElement, typed: Typed[]): boolean {
  let focused = false;
  for (const k of typed) {
    const el = scope.querySelector<HTMLInputElement | HTMLTextAreaElement>(`#${CSS.escape(k.id)}`);
    if (!el) continue;
    if (!k.changed) {
      // Nothing typed here: the new screen's own value stands; only the cursor comes back.
    } else if (el instanceof HTMLInputElement && (el.type === 'checkbox' || el.type === 'radio')) {
      if (el.checked !== k.checked) {
        el.checked = k.checked;
        el.dispatchEvent(new Event('change', { bubbles: true }));
      }
    } else if (el.value !== k.value) {
      el.value = k.value;
      // Screens filter as people type (the village search): let them see it.
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }
    if (k.focused) {
      el.focus();
      if (k.start !== null && k.end !== null) el.setSelectionRange(k.start, k.end);
      focused = true;
    }
  }
  return focused;
}

/** The newest render: an older one still waiting for the core gives up rather than draw over
 * it (a sync finishing just as the keyer opens a form must not put the old screen back under
 * their fingers). */
let renderGeneration = 0;

/** Draws the screen of the route in front; `tablet`, the overview when already asked for. */
async function render(tablet?: Promise<Tablet>): Promise<void> {
  const mine = ++renderGeneration;
  const route = parseRoute(location.hash);
  try {
    const fresh = await (tablet ?? api.overview());
    if (mine !== renderGeneration) return;
    overview = fresh;
  } catch (e) {
    if (mine !== renderGeneration) return;
    overview = null;
    clear(root);
    root.append(h('p', { class: 'error' }, errorText(e)));
    return;
  }
  let target = !overview.enrolled && route.name !== 'setup' ? parseRoute('#/setup') : route;
  // One campaign's screen opens in its campaign (a screen saved without one, in the first);
  // a campaign the tablet no longer carries leaves for Today.
  const wanted = campaignOf(target) ?? overview.campaigns[0]?.id;
  const here = overview.campaigns.find((c) => c.id === wanted) ?? overview.campaigns[0];
  if (campaignOf(target) && !overview.campaigns.some((c) => c.id === wanted)) target = { name: 'today' };
  if (here) {
    useCampaign(here.id);
    setTimeZone(here.timezone);
  }
  const main = h('main', {}, h('p', {}, t('loading')));
  if (drawnRoute !== location.hash) {
    // A new screen: its place shows it is loading. The same screen again keeps the old one
    // in front, live, until the new one is ready.
    clear(root);
    root.append(nav(target), main);
  }
  // Before enrollment only Set-up is shown, which reads the tablet alone.
  const ctx: screens.Context = { tablet: overview, overview: here as Overview, refresh: () => render(), errorText };
  const screen = await screens.render(target, ctx).catch((e: unknown) => h('p', { class: 'error' }, errorText(e)));
  if (mine !== renderGeneration) return;
  // The same screen drawn again (a sync finished): what the person typed, where their cursor
  // was, stays — taken from the screen they were typing in up to this very moment.
  const again = drawnRoute === location.hash;
  const typed = again ? typedIn(root) : [];
  drawnRoute = location.hash;
  clear(root);
  root.append(nav(target), main);
  clear(main);
  main.append(screen);
  if (!putBack(main, typed)) {
    main.querySelector<HTMLElement>('[autofocus]')?.focus();
    // The screen is in the document now: it puts the cursor where work starts, before the
    // next key can arrive (a timer or animation frame may come after the first keys).
    screen.dispatchEvent(new Event(screens.SHOWN));
  }
  if (!readyReported) {
    readyReported = true;
    // After the browser has painted the first screen.
    requestAnimationFrame(() => setTimeout(() => void api.uiReady(target.name).catch(() => undefined), 0));
  }
}

/** Counts syncs whose end the screen has shown: read by the end-to-end tests, which type
 * while a sync finishes. */
function syncDrawn(): void {
  const w = window as unknown as { __fieldpostSyncsDrawn?: number };
  w.__fieldpostSyncsDrawn = (w.__fieldpostSyncsDrawn ?? 0) + 1;
}

async function start(): Promise<void> {
  // The start's calls go together, not one after another: on a slow tablet each round trip
  // through the webview is a wait of its own before Today is drawn.
  const saved = api.uiStateGet().catch(() => null);
  const tablet = api.overview();
  tablet.catch(() => undefined); // render says why, if it fails
  // The background sync's first try is seconds away: listening need not hold up the screen.
  const listening = api.onSync({
    progress: (p) => {
      syncLine = t('syncing', { sent: p.events_sent, total: p.events_total });
      const banner = document.getElementById('sync-banner');
      if (banner) setText(banner, syncLine);
      screens.showProgress(p);
    },
    unreachable: (u) => {
      retryAt = formatTime(new Date(Date.now() + u.retry_in_secs * 1000));
      if (overview) redrawBanner(overview);
    },
    done: (d) => {
      syncLine = '';
      // The centre answered: no more waiting for it (a failed sync by hand says so itself).
      if (d.report) retryAt = null;
      screens.syncFinished(d, errorText);
      // The screens where a keyer works from the paper are not redrawn under their fingers,
      // nor a screen asking «are you sure?» (a redraw would close the question under the
      // finger about to answer it): only the banner is. Any other is drawn again keeping what
      // was typed (see putBack).
      const asking = document.querySelector('.confirm:not([hidden])') !== null;
      if (!asking && !['key', 'verify'].includes(parseRoute(location.hash).name)) {
        void render().then(syncDrawn);
        return;
      }
      void api.overview().then((o) => {
        overview = o;
        redrawBanner(o);
        syncDrawn();
      });
    },
  });
  const state = await saved;
  setLang(state?.lang === 'en' ? 'en' : ('vi' as Lang));
  if (state?.route && (location.hash === '' || location.hash === '#/')) {
    history.replaceState(null, '', state.route);
  }
  let moves = 0;
  window.addEventListener('hashchange', async () => {
    const mine = ++moves;
    // Nothing typed is lost by leaving a screen: it finishes saving first.
    await screens.beforeLeave();
    // A later move while this one waited draws its own screen: one render, the newest.
    if (mine !== moves) return;
    saveState(location.hash);
    void render();
  });
  // Listening that failed leaves the screens without the sync's progress, not without a screen.
  listening.catch((e: unknown) => console.error('the sync cannot be followed:', e));
  await render(tablet);
}

void start();
