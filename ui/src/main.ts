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
import { h, clear } from './dom';
import { lang, setLang, setTimeZone, t, type Lang } from './i18n';
import { campaignOf, href, parseRoute, type Route } from './route';
import * as screens from './screens';
import { banner } from './rejections';

const root = document.getElementById('app') as HTMLElement;
let overview: Tablet | null = null;
let readyReported = false;
let syncLine = '';

export function errorText(e: unknown): string {
  const err = e as CommandError;
  if (err && typeof err.code === 'string') {
    const key = `e_${err.code}`;
    const known = ['e_network', 'e_enrollment_code_invalid', 'e_enrollment_code_expired', 'e_enrollment_code_used', 'e_rate_limited', 'e_device_revoked', 'e_illegal_step', 'e_not_allowed', 'e_incomplete', 'e_not_enrolled', 'e_campaign_on_tablet', 'e_key_already_enrolled', 'e_unknown_campaign', 'e_already_enrolled', 'e_newer_database', 'e_corrupt_database', 'e_storage'];
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
          const b = banner(pending, overview?.rejected ?? 0);
          return h('a', { id: 'sync-banner', href: '#/sync', class: b.cls }, syncLine || b.text);
        })()
      : null,
  );
}

/** The newest render: an older one still waiting for the core gives up rather than draw over
 * it (a sync finishing just as the keyer opens a form must not put the old screen back under
 * their fingers). */
let renderGeneration = 0;

async function render(): Promise<void> {
  const mine = ++renderGeneration;
  const route = parseRoute(location.hash);
  try {
    const fresh = await api.overview();
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
  clear(root);
  root.append(nav(target), main);
  // Before enrollment only Set-up is shown, which reads the tablet alone.
  const ctx: screens.Context = { tablet: overview, overview: here as Overview, refresh: render, errorText };
  const screen = await screens.render(target, ctx).catch((e: unknown) => h('p', { class: 'error' }, errorText(e)));
  if (mine !== renderGeneration) return;
  clear(main);
  main.append(screen);
  main.querySelector<HTMLElement>('[autofocus]')?.focus();
  if (!readyReported) {
    readyReported = true;
    // After the browser has painted the first screen.
    requestAnimationFrame(() => setTimeout(() => void api.uiReady(target.name).catch(() => undefined), 0));
  }
}

async function start(): Promise<void> {
  const saved = await api.uiStateGet().catch(() => null);
  setLang(saved?.lang === 'en' ? 'en' : ('vi' as Lang));
  if (saved?.route && (location.hash === '' || location.hash === '#/')) {
    history.replaceState(null, '', saved.route);
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
  await api.onSyncProgress((p) => {
    syncLine = t('syncing', { sent: p.events_sent, total: p.events_total });
    const banner = document.getElementById('sync-banner');
    if (banner) banner.textContent = syncLine;
    screens.showProgress(p);
  });
  await api.onSyncDone((d) => {
    syncLine = '';
    screens.syncFinished(d, errorText);
    // The screen in front of a keyer is not redrawn under their fingers: only the banner is.
    if (parseRoute(location.hash).name !== 'key') {
      void render();
      return;
    }
    void api.overview().then((o) => {
      overview = o;
      const shown = document.getElementById('sync-banner');
      if (shown) {
        const b = banner(o.pending.events_total, o.rejected);
        shown.textContent = b.text;
        shown.className = b.cls;
      }
    });
  });
  await render();
}

void start();
