// The screens. Each builds its DOM from the commands' answers; none keeps state of its own
// beyond what is on screen (the device core is the source of truth).

import { api, type Household, type Mismatch, type Overview, type Progress, type SyncDone, type Tablet } from './api';
import { append, h, setText } from './dom';
import { formatDate, formatDateTime, formatTime, lang, t, tDynamic } from './i18n';
import * as keying from './keying';
import { movedAwayLines, paperFate, resolutionText, whatToDo } from './rejections';
import { matches } from './search';
import { parseEnrollLink, type EnrollLink } from './enroll_link';
import type { CameraProblem } from './qr_camera';
import { href, type Route } from './route';

export interface Context {
  /** Every campaign the tablet carries. */
  tablet: Tablet;
  /** The campaign of the screen in front of the enumerator (the first on Today and Sync). */
  overview: Overview;
  refresh: () => Promise<void>;
  errorText: (e: unknown) => string;
}

/** The event the router sends a screen once it is in the document. */
export const SHOWN = 'fieldpost:shown';

export function render(route: Route, ctx: Context): Promise<HTMLElement> {
  leaving = null; // the keying screen sets it again when it is the one drawn
  switch (route.name) {
    case 'setup':
      return Promise.resolve(setup(ctx));
    case 'today':
      return Promise.resolve(today(ctx));
    case 'village':
      return village(route.id, ctx);
    case 'household':
      return household(route.id, ctx);
    case 'key':
      return keyingScreen(route.id, route.pass, ctx);
    case 'verify':
      return verify(route.id, ctx);
    case 'parcels':
      return parcels(ctx);
    case 'sync':
      return sync(ctx);
  }
}

const statusLabel = (status: string) => tDynamic(`status_${status}`, status);
const chip = (status: string) => h('span', { class: `chip s-${status}` }, statusLabel(status));
const text = (v: { vi: string; en: string }) => v[lang()];

/** A question as a screen reader says it: its printed number (if the paper has one), its label. */
function numbered(q: { number: string; label: { vi: string; en: string } }): string {
  return [q.number, text(q.label)].filter(Boolean).join(' ');
}

function flash(where: HTMLElement, message: string, kind: 'error' | 'ok' = 'error'): void {
  where.querySelector('.flash')?.remove();
  where.prepend(h('p', { class: `flash ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message));
}

// ---- Set-up -------------------------------------------------------------------------------

function setup(ctx: Context): HTMLElement {
  const tablet = ctx.tablet;
  if (!tablet.enrolled) return enrollForm(ctx, null);
  return h(
    'section',
    {},
    h('h1', {}, t('enrolled_as', { name: tablet.campaigns.map((o) => o.enumerator_name ?? o.enumerator ?? '').filter((n, i, all) => all.indexOf(n) === i).join(', ') })),
    tablet.campaigns.map((o) =>
      h(
        'div',
        { class: 'card campaign', 'data-campaign': o.id },
        h('h2', {}, o.campaign ?? o.id),
        h('p', {}, `${t('enumerator')}: `, h('strong', {}, o.enumerator_name ?? o.enumerator ?? '')),
        timeline(o),
        h('h3', {}, t('your_villages')),
        h('ul', {}, o.villages.map((v) => h('li', {}, `${v.name}, ${v.commune}, ${v.district}`))),
      ),
    ),
    h('a', { class: 'button', href: '#/today', id: 'go-today' }, t('go_today')),
    h('details', { class: 'card', id: 'add-campaign' }, h('summary', {}, t('add_campaign')), enrollForm(ctx, tablet.campaigns[0]?.intake_url ?? null)),
  );
}

/** The enrollment form: the intake's address and a one-time code, typed or read from the
 * printed QR code. `intake` is the address a campaign already uses, when adding another. */
function enrollForm(ctx: Context, intake: string | null): HTMLElement {
  const adding = intake !== null;
  const url = h('input', { id: 'intake-url', type: 'url', value: intake ?? 'http://127.0.0.1:8080', autocomplete: 'off', required: true });
  const code = h('input', { id: 'code', type: 'text', autocomplete: 'off', autocapitalize: 'characters', autofocus: !adding, required: true, placeholder: 'XXXX-XXXX-XXXX' });
  // A scanned or pasted QR link fills both fields (a scanner types it whole, then Enter).
  const takeLink = () => {
    const link = parseEnrollLink(code.value);
    if (link) {
      url.value = link.intake;
      code.value = link.code;
    }
  };
  code.addEventListener('paste', () => setTimeout(takeLink, 0));
  code.addEventListener('change', takeLink);
  const scanner = cameraScanner((link) => {
    url.value = link.intake;
    code.value = link.code;
    flash(form, t('scan_read'), 'ok');
    button.focus();
  }, (message) => flash(form, message));
  const button: HTMLButtonElement = h('button', { id: 'enroll', type: 'submit' }, t('enroll'));
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'card narrow',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (button.disabled) return; // a second tap while the intake answers the first
        takeLink();
        // The intake may take seconds to answer over a slow link: the button says it is
        // working, and the code cannot be sent twice.
        button.disabled = true;
        button.textContent = t('enrolling');
        form.querySelector('.flash')?.remove();
        try {
          await api.enroll(url.value, code.value);
          location.hash = '#/setup';
          await ctx.refresh();
        } catch (err) {
          flash(form, ctx.errorText(err));
        } finally {
          button.disabled = false;
          button.textContent = t('enroll');
        }
      },
    },
    adding ? h('p', {}, t('add_campaign_intro')) : h('h1', {}, t('setup_title')),
    adding ? null : h('p', {}, t('setup_intro')),
    h('label', {}, t('intake_url'), url),
    h('label', {}, t('code'), code),
    scanner,
    button,
  );
  return form;
}

/**
 * The camera's part of set-up: a button that opens the camera and reads the printed QR code.
 * The decoder is loaded only when asked for; a device without a camera says so and the
 * enumerator types the code.
 */
function cameraScanner(onLink: (link: EnrollLink) => void, onProblem: (message: string) => void): HTMLElement {
  const video = h('video', { id: 'scan-video', class: 'scan-video', hidden: true });
  const status = h('p', { id: 'scan-status', class: 'hint', hidden: true }, t('scan_looking'));
  let stop: (() => void) | null = null;
  const finish = () => {
    stop?.();
    stop = null;
    video.hidden = true;
    status.hidden = true;
    button.textContent = t('scan_qr');
  };
  const button = h('button', {
    id: 'scan-qr',
    type: 'button',
    class: 'secondary',
    onclick: async () => {
      if (stop) return finish();
      const { scanQrCode } = await import('./qr_camera');
      const scan = scanQrCode(video, parseEnrollLink);
      stop = scan.stop;
      video.hidden = false;
      status.hidden = false;
      button.textContent = t('scan_cancel');
      // Leaving the screen turns the camera off.
      window.addEventListener('hashchange', finish, { once: true });
      scan.found.then(
        (link) => {
          finish();
          onLink(link);
        },
        (problem: CameraProblem) => {
          finish();
          onProblem(t(`scan_${problem}`));
        },
      );
    },
  }, t('scan_qr'));
  return h('div', { class: 'scan' }, button, status, video);
}

function timeline(o: Overview): HTMLElement | null {
  if (!o.timeline) return null;
  const row = (label: string, w: { start: string; end: string }) => h('tr', {}, h('th', {}, label), h('td', {}, `${formatDate(w.start)} – ${formatDate(w.end)}`));
  return h(
    'table',
    { class: 'timeline' },
    h('caption', {}, t('timeline')),
    row(t('window_distribute'), o.timeline.distribute),
    row(t('window_collect'), o.timeline.collect),
    row(t('window_submit'), o.timeline.submit),
  );
}

// ---- Today --------------------------------------------------------------------------------

function today(ctx: Context): HTMLElement {
  const several = ctx.tablet.campaigns.length > 1;
  const first = ctx.tablet.campaigns[0];
  return h(
    'section',
    {},
    h('h1', {}, t('today_title', { date: first?.date ? formatDate(first.date) : '' })),
    searchEverywhere(ctx),
    ctx.tablet.campaigns.map((o) => campaignToday(o, several)),
  );
}

/** Finding a household from Today, whatever its village (and campaign): as people type, by
 * name, address or serial, without diacritics. */
function searchEverywhere(ctx: Context): HTMLElement {
  const box = h('input', { id: 'search-all', type: 'search', placeholder: t('search_all'), autocomplete: 'off' });
  const results = h('ul', { id: 'search-results', class: 'households' });
  let everyone: { campaign: Overview; list: Household[] }[] | null = null;
  box.addEventListener('input', async () => {
    const typed = box.value;
    if (typed.trim().length < 2) {
      results.replaceChildren();
      return;
    }
    everyone ??= await Promise.all(ctx.tablet.campaigns.map(async (campaign) => ({ campaign, list: await api.households(campaign.id) })));
    if (box.value !== typed) return; // a newer key is being answered
    const found = everyone.flatMap(({ campaign, list }) => list.filter((x) => x.assigned && matches(x, typed)).map((x) => ({ campaign, x })));
    results.replaceChildren(
      ...found.slice(0, 20).map(({ campaign, x }) =>
        h(
          'li',
          { class: 'household-row', 'data-household': x.id },
          h('a', { href: href({ name: 'household', id: x.id, campaign: campaign.id }) }, h('strong', {}, x.name), ` (${x.serial})`),
          ` — ${[...campaign.villages, ...campaign.former_villages].find((v) => v.id === x.village)?.name ?? ''}`,
        ),
      ),
      ...(found.length === 0 ? [h('li', { class: 'muted' }, t('search_none'))] : []),
    );
  });
  return h('div', { class: 'search-all' }, box, results);
}

/** One campaign's day: its phase, its villages, households moved away. With several
 * campaigns each is its own section under its name, so their work never mixes. */
function campaignToday(o: Overview, several: boolean): HTMLElement {
  const phase = o.today?.phase ?? 'over';
  return h(
    'section',
    { class: several ? 'campaign-day card' : 'campaign-day', 'data-campaign': o.id },
    several ? h('h2', { class: 'campaign-name' }, o.campaign ?? o.id) : null,
    h('p', { class: `phase p-${phase}`, id: several ? null : 'phase' }, `${t('phase')}: `, h('strong', {}, tDynamic(`phase_${phase}`, phase))),
    h(
      'div',
      { class: 'cards' },
      o.villages.map((v) => {
        const d = o.today?.villages[v.id] ?? { to_distribute: 0, to_collect: 0, to_transcribe: 0, late: 0 };
        const count = (label: string, n: number, cls = '') => h('div', { class: `count ${cls}` }, h('span', { class: 'n' }, n), h('span', {}, label));
        return h(
          'a',
          { class: 'card village-card', href: href({ name: 'village', id: v.id, campaign: o.id }), 'data-village': v.id },
          h('h2', {}, v.name),
          h('p', { class: 'muted' }, `${v.commune}, ${v.district}`),
          h(
            'div',
            { class: 'counts' },
            count(t('to_distribute'), d.to_distribute),
            count(t('to_collect'), d.to_collect),
            count(t('to_transcribe'), d.to_transcribe),
            count(t('late'), d.late, d.late > 0 ? 'late' : ''),
          ),
        );
      }),
    ),
    o.moved_away.length === 0
      ? null
      : h(
          'section',
          { class: 'card moved-away', id: several ? null : 'moved-away' },
          h('h2', {}, t('moved_away_title')),
          (() => {
            const lines = movedAwayLines(o.moved_away);
            const villageName = (id: string) => [...o.villages, ...o.former_villages].find((v) => v.id === id)?.name ?? id;
            return h(
              'ul',
              {},
              lines.each.map((x) =>
                h(
                  'li',
                  { 'data-household': x.id },
                  h('a', { href: href({ name: 'household', id: x.id, campaign: o.id }) }, h('strong', {}, x.name), ` (${x.serial})`),
                  ' — ',
                  x.moved_to ? t('moved_to', { who: x.moved_to }) : t('moved_to_someone'),
                  h('p', { class: 'fate' }, paperFate(x)),
                ),
              ),
              lines.together.map((g) =>
                h(
                  'li',
                  { 'data-village': g.village, class: 'moved-village' },
                  h('strong', {}, villageName(g.village)),
                  ' — ',
                  t('moved_village', { n: g.n, who: g.who ?? t('the_new_enumerator') }),
                ),
              ),
            );
          })(),
        ),
    timeline(o),
  );
}

// ---- Village ------------------------------------------------------------------------------

async function village(id: string, ctx: Context): Promise<HTMLElement> {
  const place = ctx.overview.villages.find((v) => v.id === id) ?? ctx.overview.former_villages.find((v) => v.id === id);
  const all = (await api.households()).filter((x) => x.village === id);
  let filter = 'all';
  const search = h('input', { id: 'search', type: 'search', placeholder: t('search'), autofocus: true });
  const list = h('div', { class: 'households' });
  const statuses = ['all', ...new Set(all.map((x) => x.status))];
  const chips = h('div', { class: 'filters' });
  const draw = () => {
    list.replaceChildren(
      ...all
        .filter((x) => filter === 'all' || x.status === filter)
        .filter((x) => matches(x, search.value))
        .map((x) =>
          h(
            'a',
            { class: `household-row${x.assigned ? '' : ' gone'}`, href: href({ name: 'household', id: x.id }), 'data-household': x.id },
            h('span', { class: 'serial' }, x.serial),
            h('span', { class: 'name' }, x.name, x.reserve_rank !== null ? h('small', {}, ` · ${t('reserve')} ${x.reserve_rank}`) : null),
            h('span', { class: 'addr muted' }, x.address),
            chip(x.status),
          ),
        ),
    );
    chips.replaceChildren(
      ...statuses.map((s) =>
        h(
          'button',
          {
            class: `filter${s === filter ? ' active' : ''}`,
            'data-filter': s,
            onclick: () => {
              filter = s;
              draw();
            },
          },
          s === 'all' ? `${t('all')} (${all.length})` : `${statusLabel(s)} (${all.filter((x) => x.status === s).length})`,
        ),
      ),
    );
  };
  search.addEventListener('input', draw);
  // Enter opens the household when the search leaves exactly one.
  search.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    const shown = list.querySelectorAll<HTMLAnchorElement>('.household-row');
    if (shown.length === 1) location.hash = shown[0].getAttribute('href') ?? '';
  });
  draw();
  return h(
    'section',
    {},
    h('a', { href: '#/today', class: 'back' }, t('back')),
    h('h1', {}, place ? `${place.name}, ${place.commune}` : t('village_unnamed')),
    search,
    chips,
    list,
  );
}

// ---- Household ----------------------------------------------------------------------------

async function household(id: string, ctx: Context): Promise<HTMLElement> {
  const [list, events] = await Promise.all([api.households(), api.history(id)]);
  const x = list.find((y) => y.id === id);
  if (!x) return h('p', { class: 'error' }, id);
  const secondKeyed =
    x.status === 'transcribed' && x.first_keyed_here !== false && ctx.overview.verification_required
      ? Object.keys((await api.keyingState(id, 2).catch(() => ({ answers: {} }))).answers).length
      : 0;
  const replaced = x.replaces ? list.find((y) => y.id === x.replaces) : undefined;
  const nameOf = (hid: string) => {
    const y = list.find((z) => z.id === hid);
    return y ? `${y.name} (${y.serial})` : hid;
  };
  const section = h('section', {});
  const confirmBox = h('div', { id: 'confirm', class: 'confirm', hidden: true });
  const run = async (f: () => Promise<unknown>) => {
    try {
      await f();
      await ctx.refresh();
    } catch (e) {
      flash(section, ctx.errorText(e));
    }
  };
  // An action that cannot be taken back asks once more, saying what it records and why it
  // matters; the keyer confirms or cancels.
  const act = (buttonId: string, label: string, f: () => Promise<unknown>, cls = '', confirm: string | null = null) =>
    h(
      'button',
      {
        id: buttonId,
        class: cls,
        onclick: () => {
          if (confirm === null) return run(f);
          confirmBox.replaceChildren(
            h('p', {}, confirm),
            h('button', { id: `${buttonId}-confirm`, class: 'danger', onclick: () => run(f) }, t('confirm_yes', { action: label })),
            h('button', { id: 'confirm-cancel', class: 'secondary', onclick: () => confirmBox.toggleAttribute('hidden', true) }, t('cancel')),
          );
          confirmBox.toggleAttribute('hidden', false);
          (confirmBox.querySelector(`#${buttonId}-confirm`) as HTMLElement | null)?.focus();
        },
      },
      label,
    );
  const lateWarning = collectingTooEarly(ctx.overview.timeline, ctx.overview.date);
  const note = h('input', { id: 'note', type: 'text', placeholder: t('note'), maxlength: 2000 });
  const noteValue = () => (note.value.trim() === '' ? null : note.value.trim());
  const outcome = (o: string) =>
    act(
      `outcome-${o}`,
      tDynamic(`outcome_${o}`, o),
      () => api.recordOutcome(id, o, noteValue()),
      'secondary',
      // Absent is not final: the form can still be handed out on a later visit.
      t(o === 'absent' ? 'confirm_absent' : 'confirm_outcome', { household: x.name, outcome: tDynamic(`outcome_${o}`, o) }),
    );
  const actions: (HTMLElement | null)[] = [];
  if (x.assigned) {
    switch (x.status) {
      case 'assigned':
      case 'absent':
        actions.push(
          act('hand-out-rep', `${t('hand_out')}: ${t('to_representative')}`, () => api.distribute(id, 'representative', noteValue())),
          act('hand-out-family', `${t('hand_out')}: ${t('to_family_member')}`, () => api.distribute(id, 'family_member', noteValue())),
          outcome('absent'),
          outcome('refused'),
          outcome('moved'),
          outcome('unreachable'),
          note,
        );
        break;
      case 'distributed':
        actions.push(act('collect', t('collect'), () => api.collect(id), '', lateWarning), outcome('absent'), outcome('refused'), outcome('form_lost'), note);
        break;
      case 'collected':
        actions.push(h('a', { class: 'button', id: 'key-1', href: href({ name: 'key', id, pass: 1 }) }, t('key_first')));
        break;
      case 'transcribed':
        if (ctx.overview.verification_required && x.first_keyed_here === false) {
          // Keyed on another tablet and carried over: the first keying is done again here,
          // so that the verification compares two real keyings.
          // Whose tablet keyed it: the enumerator the supervisor carried the work over from,
          // else the one the history's earlier steps name (a household moved after keying).
          const keyedBy = x.carried_from ?? [...events].reverse().find((e) => e.by && e.kind === 'form_transcribed')?.by ?? events.find((e) => e.by)?.by;
          actions.push(h('p', { class: 'flash', id: 'rekey-first' }, keyedBy ? t('rekey_first_here', { who: keyedBy }) : t('rekey_first_elsewhere')));
          actions.push(h('a', { class: 'button', id: 'key-1', href: href({ name: 'key', id, pass: 1 }) }, t('key_first')));
        } else if (ctx.overview.verification_required) {
          // A second keying begun and left before comparing says so, with how far it got.
          if (secondKeyed > 0) actions.push(h('p', { class: 'flash', id: 'pass-2-open' }, t('pass_2_open', { n: secondKeyed })));
          actions.push(h('a', { class: 'button', id: 'key-2', href: href({ name: 'key', id, pass: 2 }) }, t('key_second')));
        }
        break;
      case 'refused':
      case 'moved':
        if (ctx.overview.replacement_allowed)
          actions.push(
            act(
              'replace',
              t('replace'),
              async () => {
                const by = await api.replace(id);
                location.hash = href({ name: 'household', id: by });
              },
              '',
              t('confirm_replace', { household: `${x.name} (${x.serial})` }),
            ),
          );
        break;
    }
  }
  append(
    section,
    h('a', { href: href({ name: 'village', id: x.village }), class: 'back' }, t('back')),
    h('h1', {}, x.name, ' ', chip(x.status)),
    h('dl', {}, h('dt', {}, t('serial')), h('dd', { id: 'serial' }, x.serial), h('dt', {}, t('address')), h('dd', {}, x.address)),
    x.assigned
      ? null
      : h('div', { class: 'flash error', id: 'moved-to' }, h('p', {}, x.moved_to ? t('moved_to', { who: x.moved_to }) : t('moved_to_someone')), h('p', { class: 'fate' }, paperFate(x))),
    x.carried_from ? h('p', { class: 'flash', id: 'carried-from' }, t('carried_from', { who: x.carried_from })) : null,
    replaced ? h('p', { class: 'flash', id: 'replaces' }, t('replaces', { household: `${replaced.name} (${replaced.serial})` })) : null,
    h('div', { class: 'actions' }, actions),
    confirmBox,
    h('h2', {}, t('history')),
    h(
      'ol',
      { class: 'history' },
      events.map((e) =>
        h(
          'li',
          {},
          h('time', {}, formatDateTime(e.at)),
          ' ',
          tDynamic(`kind_${e.kind}`, e.kind),
          e.detail ? ` — ${e.kind === 'household_replaced' ? t('replaced_by', { household: nameOf(e.detail) }) : tDynamic(`outcome_${e.detail}`, tDynamic(`to_${e.detail}`, e.detail))}` : '',
          ' · ',
          e.by
            ? h('span', { class: 'earlier' }, t('earlier_step', { who: e.by }))
            : h('span', { class: `sent ${e.outcome ?? 'unsent'}` }, e.outcome ? tDynamic(`outcome_sent_${e.outcome}`, e.outcome) : t('outcome_unsent')),
          e.note ? h('div', { class: 'note' }, `${t('note_written')}: ${e.note}`) : null,
          e.outcome === 'rejected' && e.code
            ? h(
                'div',
                { class: 'rejection' },
                e.resolution ? null : h('p', { class: 'error' }, whatToDo({ event: '', household: id, kind: e.kind, code: e.code, reason: e.reason ?? '', resolution: null, resolution_note: null }, () => x.name, () => x, false)),
                h('p', { class: 'muted' }, resolutionText({ event: '', household: id, kind: e.kind, code: e.code, reason: '', resolution: e.resolution, resolution_note: e.resolution_note })),
              )
            : null,
        ),
      ),
    ),
  );
  return section;
}

// ---- Transcription ------------------------------------------------------------------------

async function keyingScreen(id: string, pass: 1 | 2, ctx: Context): Promise<HTMLElement> {
  const [sheet, list, saved] = await Promise.all([api.keyingSheet(id), api.households(), api.keyingState(id, pass)]);
  const x = list.find((y) => y.id === id) as Household;
  const questions = sheet.questions;
  const answers: Record<string, keying.Answer> = { ...saved.answers };
  let notRelevant = new Set<string>();
  let remaining: string[] = [];
  let current = 0;
  const rows = new Map<string, { row: HTMLElement; input: HTMLInputElement; error: HTMLElement; mark: HTMLElement }>();
  /** Beside a box holding a mark key, what it means ("Để trống"). */
  const markNote = (v: keying.Answer | undefined) => (keying.isMark(v) ? t(keying.markKey(v)) : '');
  const section = h('section', { class: 'keying' });
  const status = h('p', { class: 'progress', id: 'keying-progress', 'aria-live': 'polite' });
  const bar = h('progress', { max: questions.length, value: 0 });
  const stickyBar = h('div', { class: 'sticky' }, bar, status);

  const showProgress = () => {
    const p = keying.progress(questions, answers, notRelevant);
    setText(status, `${t('progress', p)} · ${t('answered_required', { n: remaining.length })}`);
    bar.max = p.total;
    bar.value = p.done;
  };
  const showError = (qid: string, message: string | null) => {
    const r = rows.get(qid);
    if (!r) return;
    setText(r.error, message ?? '');
    r.row.classList.toggle('has-error', message !== null);
  };
  const apply = (v: { errors: keying.CoreError[]; not_relevant: string[]; required_remaining: string[] }, cleared: string[]) => {
    notRelevant = new Set(v.not_relevant);
    remaining = v.required_remaining;
    for (const q of cleared) delete answers[q];
    for (const [qid, r] of rows) {
      const skipped = notRelevant.has(qid);
      r.row.classList.toggle('skipped', skipped);
      r.input.disabled = skipped;
      if (skipped || cleared.includes(qid)) {
        // Skipped rows are gone through on every save: written only when they change.
        const shown = keying.formatAnswer(answers[qid]);
        if (r.input.value !== shown) r.input.value = shown;
        setText(r.mark, markNote(answers[qid]));
      }
      r.row.querySelector('.skip-note')?.toggleAttribute('hidden', !skipped);
      r.row.classList.toggle('answered', qid in answers);
    }
    for (const e of v.errors) {
      const m = keying.coreErrorMessage(e);
      showError(e.question, t(m.key, m.params));
    }
    clearTimeout(progressLater);
    progressLater = setTimeout(showProgress, PROGRESS_AFTER_MS);
  };
  // The progress bar is redrawn when the keyer pauses, not with every answer: it sits at the top
  // and the answer lower down, and WebKit redraws one rectangle around both — most of the screen,
  // on a cheap tablet's CPU, per key (app_measures: 1.6–2.7 MB a key redrawn, 0.6–0.9 MB after).
  let progressLater: ReturnType<typeof setTimeout> | undefined;
  const focus = (i: number) => {
    current = Math.max(0, Math.min(i, questions.length));
    rows.forEach((r) => r.row.classList.remove('current'));
    if (current >= questions.length) {
      document.getElementById('finish-keying')?.focus();
      return;
    }
    const r = rows.get(questions[current].id)!;
    r.row.classList.add('current');
    // While a finger or the mouse is on a button (or its click waits for the last keys), the
    // page does not scroll under it: a press and release on two places is no click at all.
    const still = pressing || settling;
    r.input.focus({ preventScroll: true });
    r.input.select();
    if (!still) keepInView(r.row);
  };
  /** Scrolls only when the question is near the screen's bottom (or above its top), and then
   * puts it just under the progress bar, so the next five or so questions show without another
   * scroll. A scroll repaints the whole screen (WebKit without its compositor draws the moved
   * page anew, sticky bar or not): re-centring the current question repainted it on every
   * answer, and putting it a quarter of the way down on every fourth, which a cheap tablet's CPU
   * pays for. */
  const keepInView = (row: HTMLElement) => {
    const box = row.getBoundingClientRect();
    const top = stickyBar.getBoundingClientRect().bottom;
    const seen = window.innerHeight - top;
    if (box.top >= top && box.bottom <= window.innerHeight - Math.min(seen * 0.1, 80)) return;
    window.scrollBy(0, box.top - top - seen * 0.04);
  };
  let pressing = false;
  section.addEventListener('pointerdown', (e) => {
    if (!(e.target as HTMLElement).classList.contains('answer')) pressing = true;
  });
  for (const end of ['pointerup', 'pointercancel', 'click'] as const) section.addEventListener(end, () => (pressing = false), { capture: true });
  /** Saves what was typed for question `i`. `showTyped` puts it in its box: called once the
   * save has answered (or 50 ms on, if it is slow), so that a digit settling its question is
   * drawn in the same redraw as what its save changes (the tick, the progress, the next box):
   * every redraw costs a cheap tablet's CPU, whatever it draws. */
  const save = async (i: number, raw: string, pressedAt?: number, showTyped?: () => void): Promise<boolean> => {
    const now = performance.now();
    // A key event's timeStamp is on performance.now()'s clock; anything else is not trusted.
    const started = pressedAt !== undefined && pressedAt <= now && pressedAt > now - 600_000 ? pressedAt : now;
    const q = questions[i];
    const parsed = keying.parseAnswer(q, raw);
    if (!parsed.ok) {
      showError(q.id, t(parsed.error, parsed.params));
      return false;
    }
    showError(q.id, null);
    const late = showTyped ? setTimeout(showTyped, 50) : undefined;
    const showNow = () => {
      clearTimeout(late);
      showTyped?.();
    };
    try {
      const { validation, cleared } = await api.keyAnswer(id, pass, q.id, parsed.value);
      showNow();
      if (parsed.value === null) delete answers[q.id];
      else answers[q.id] = parsed.value;
      setText(rows.get(q.id)!.mark, markNote(answers[q.id]));
      apply(validation, cleared);
      recordKeying(performance.now() - started);
      return !validation.errors.some((e) => e.question === q.id);
    } catch (e) {
      showNow();
      showError(q.id, ctx.errorText(e));
      return false;
    }
  };
  const advance = async (i: number, raw: string, pressedAt?: number, showTyped?: () => void) => {
    if (!(await save(i, raw, pressedAt, showTyped))) return;
    const q = questions[i];
    // Leaving a required question empty is allowed (the paper may be blank) but never silent.
    if (raw.trim() === '' && q.required && !notRelevant.has(q.id)) showError(q.id, t('err_required_blank'));
    focus(keying.nextQuestion(questions, i, notRelevant));
  };
  const previous = (i: number) => {
    let j = i - 1;
    while (j > 0 && notRelevant.has(questions[j].id)) j--;
    return Math.max(j, 0);
  };
  // One key at a time, in the order pressed: see keying.KeyQueue.
  const handleKey = async ({ key, shift, commit, at }: keying.Stroke) => {
    if (commit) {
      // What a box holds when the keyer leaves it without Enter: saved where it was typed.
      await save(commit.question, commit.raw);
      return;
    }
    if (!section.isConnected) return;
    if (current >= questions.length) {
      if (key === 'Enter') finish.click();
      else if (key === 'Tab' && shift) focus(previous(questions.length));
      return;
    }
    const i = current;
    const q = questions[i];
    const input = rows.get(q.id)!.input;
    if (document.activeElement !== input && !input.disabled) input.focus();
    const picked = keying.digit(q, key);
    if (picked) {
      if (!picked.ok) return showError(q.id, t(picked.error, picked.params));
      return advance(i, key, at, () => (input.value = key));
    }
    if (key === 'Enter' || (key === 'Tab' && !shift)) return advance(i, input.value, at);
    if (key === 'Tab' && shift) return focus(previous(i));
    const start = input.selectionStart ?? input.value.length;
    const edit = keying.editText(input.value, start, input.selectionEnd ?? start, key);
    if (edit) {
      input.value = edit.value;
      input.setSelectionRange(edit.caret, edit.caret);
    }
  };
  const keys = new keying.KeyQueue<keying.Stroke>(handleKey);
  const onKeydown = (e: KeyboardEvent) => {
    if (!section.isConnected) return document.removeEventListener('keydown', onKeydown, true);
    // A Vietnamese IME (Telex/VNI) composing, and shortcuts such as Ctrl+G, are the browser's.
    if (e.isComposing || e.keyCode === 229 || e.ctrlKey || e.altKey || e.metaKey) return;
    const key = keying.keyOf(e);
    // While a click waits for the keys of a burst, those keys still go to the questions,
    // wherever the click put the focus.
    if (!keys.busy && !settling) {
      // Nothing in flight: ordinary typing goes into the field as usual; only the keys that
      // save and move on are taken — and keys typed while nothing has the focus (the screen
      // just opened) go to the current question rather than nowhere.
      // Keys on anything but an answer box (the page itself, a link or button the mouse just
      // pressed in the middle of a burst) go to the current question too; only the jump box
      // takes its own typing.
      const target = e.target as HTMLElement;
      const onAnswer = target.classList.contains('answer');
      if (current >= questions.length || target === jump) return;
      const moves = key === 'Enter' || key === 'Tab' || keying.digit(questions[current], key) !== null;
      if (onAnswer && !moves) return;
    }
    // Something is being saved, or this key saves: it waits its turn.
    e.preventDefault();
    e.stopPropagation();
    keys.push({ key, shift: e.shiftKey, at: e.timeStamp });
  };
  document.addEventListener('keydown', onKeydown, true);

  let lastGroup = '';
  let lastSection = '';
  const list_ = h('div', { class: 'questions' });
  questions.forEach((q, i) => {
    if (text(q.section) !== lastSection) {
      lastSection = text(q.section);
      list_.append(h('h2', { class: 'section' }, lastSection));
    }
    const groupText = q.group ? text(q.group) : '';
    if (groupText !== lastGroup) {
      lastGroup = groupText;
      // A workbook's group often repeats its section's title: said once.
      if (groupText && groupText !== lastSection) list_.append(h('h3', { class: 'group' }, groupText));
    }
    const input = h('input', {
      id: `ans-${q.id}`,
      class: 'answer',
      type: 'text',
      inputmode: q.kind === 'text' ? 'text' : 'numeric',
      autocomplete: 'off',
      spellcheck: 'false',
      value: keying.formatAnswer(answers[q.id]),
      'aria-label': numbered(q),
    });
    const error = h('div', { class: 'error', role: 'alert' });
    const mark = h('div', { class: 'mark-note' }, markNote(answers[q.id]));
    const choices = [...q.choices, ...q.special].map((c) => h('span', { class: 'choice' }, h('b', {}, c.code), ` ${text(c.label)}`));
    const row = h(
      'div',
      { class: `q q-${q.kind}`, 'data-id': q.id },
      h('span', { class: 'num' }, q.number),
      h('div', { class: 'body' }, h('div', { class: 'label' }, text(q.label)), h('div', { class: 'choices' }, choices), h('div', { class: 'skip-note muted', hidden: true }, t('skipped')), mark, error),
      input,
    );
    input.addEventListener('focus', () => {
      current = i;
      rows.forEach((r) => r.row.classList.remove('current'));
      row.classList.add('current');
    });
    // Left by the mouse (or by finishing, or leaving the screen) with something new typed and
    // no Enter: saved as it stands, in its turn behind any keys still waiting.
    input.addEventListener('change', () => commitBox(i));
    rows.set(q.id, { row, input, error, mark });
    list_.append(row);
  });

  const jump = h('input', { id: 'jump', type: 'text', placeholder: t('jump'), size: 8, autocomplete: 'off' });
  jump.addEventListener('keydown', (e: KeyboardEvent) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    const i = keying.findByNumber(questions, jump.value);
    if (i >= 0) focus(i);
  });
  section.addEventListener('keydown', (e: KeyboardEvent) => {
    if (e.ctrlKey && e.key.toLowerCase() === 'g') {
      e.preventDefault();
      jump.focus();
    }
  });
  // The first question that stops the form being finished: required and empty, or in error.
  /** Queues a save of what question `i`'s box holds, if it differs from what is saved. */
  function commitBox(i: number): void {
    if (i < 0 || i >= questions.length) return;
    const q = questions[i];
    const r = rows.get(q.id)!;
    if (r.input.disabled || r.input.value.trim() === keying.formatAnswer(answers[q.id]).trim()) return;
    keys.push({ key: '', shift: false, commit: { question: i, raw: r.input.value } });
  }
  // Leaving the screen waits for every key typed and the box in hand to be saved.
  // A click (finish, or a link away) is waiting for the keys of a burst to land.
  let settling = false;
  const settle = async () => {
    settling = true;
    try {
      await keys.settled(KEYS_QUIET_MS);
    } finally {
      settling = false;
    }
  };
  leaving = async () => {
    await settle();
    commitBox(current);
    await keys.idle();
  };
  const firstProblem = () => {
    const i = questions.findIndex((q) => !notRelevant.has(q.id) && (remaining.includes(q.id) || rows.get(q.id)!.row.classList.contains('has-error')));
    return i === -1 ? questions.length : i;
  };
  const finishProblem = h('p', { class: 'error', id: 'finish-problem', role: 'alert' });
  const finish = h(
    'button',
    {
      id: 'finish-keying',
      onclick: async () => {
        // A click while keys still wait would finish before them, and a box typed in without
        // Enter would be left out: let both land first.
        await settle();
        commitBox(current);
        await keys.idle();
        const open = firstProblem();
        if (open < questions.length) {
          const q = questions[open];
          const said = t('finish_blocked', { number: q.number, label: text(q.label) });
          finishProblem.textContent = said;
          focus(open);
          // Said where the cursor now is too: the button may be far below.
          if (!rows.get(q.id)!.error.textContent) showError(q.id, said);
          return;
        }
        // A sheet with no answer at all (every box blank or unreadable) may be so on paper;
        // more often a whole page was skipped. Said once; a second press finishes it.
        const values = Object.values(answers);
        const nothingAnswered = values.length > 0 && values.every((v) => keying.isMark(v));
        if (nothingAnswered && !finishProblem.dataset.blankSaid) {
          finishProblem.dataset.blankSaid = 'yes';
          finishProblem.textContent = t('finish_all_blank');
          return;
        }
        finishProblem.textContent = '';
        try {
          if (pass === 1) {
            await api.finishFirstKeying(id);
            location.hash = href({ name: 'household', id });
          } else {
            location.hash = href({ name: 'verify', id });
          }
        } catch (e) {
          flash(section, ctx.errorText(e));
        }
      },
    },
    pass === 1 ? t('finish_keying') : t('compare'),
  );
  append(
    section,
    h('a', { href: href({ name: 'household', id }), class: 'back' }, t('back')),
    h('div', { class: 'keying-head' }, h('h1', {}, t('keying_title', { serial: x?.serial ?? id, pass })), jump),
    pass === 2 ? h('p', { class: 'muted' }, t('keying_blind')) : null,
    h('p', { class: 'muted help' }, t('help_keys')),
    stickyBar,
    list_,
    h('div', { class: 'actions' }, finishProblem, finish),
  );
  // What was saved before (a resumed form), then the first open question.
  apply(saved.validation, []);
  showProgress();
  section.addEventListener(SHOWN, () => focus(keying.firstOpen(questions, answers, notRelevant)), { once: true });
  return section;
}

/** Keystroke to saved answer, in ms: from the key event (the time it waited behind earlier
 * keys included) to the answer durably committed, validated and the screen updated. Read by
 * the app's benchmark through WebDriver. */
function recordKeying(ms: number): void {
  const w = window as unknown as { __fieldpostKeyingMs?: number[] };
  (w.__fieldpostKeyingMs ??= []).push(ms);
}

// ---- Verification: walk the mismatches ---------------------------------------------------

/** An answer as the verifier reads it: each code with its label ("2 — Nữ"). */
function labelled(q: { choices: { code: number; label: { vi: string; en: string } }[]; special: { code: number; label: { vi: string; en: string } }[] }, v: keying.Answer | null): string {
  if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) return t('empty');
  if (keying.isMark(v)) return `${keying.formatAnswer(v)} — ${t(keying.markKey(v))}`;
  const all = [...q.choices, ...q.special];
  const one = (c: unknown) => {
    const found = typeof c === 'number' ? all.find((x) => x.code === c) : undefined;
    return found ? `${c} — ${text(found.label)}` : String(c);
  };
  return Array.isArray(v) ? v.map(one).join('; ') : one(v);
}

async function verify(id: string, ctx: Context): Promise<HTMLElement> {
  const [sheet, list, mismatches] = await Promise.all([api.keyingSheet(id), api.households(), api.mismatches(id)]);
  const x = list.find((y) => y.id === id);
  const byId = new Map(sheet.questions.map((q) => [q.id, q]));
  const section = h('section', {});
  const inputs = new Map<string, HTMLInputElement>();
  // The paper value typed for a difference, or what is wrong with it.
  const paperValue = (m: Mismatch, text: string): { value: keying.Answer | null } | { problem: string } => {
    const parsed = keying.parseAnswer(byId.get(m.question)!, text);
    if (!parsed.ok) return { problem: t(parsed.error, parsed.params) };
    // Both passes keyed something here: an empty box is a choice not made yet.
    if (parsed.value === null && m.first != null && m.second != null) return { problem: t('paper_value_needed') };
    return { value: parsed.value };
  };
  const rows = mismatches.map((m) => {
    const q = byId.get(m.question)!;
    const input = h('input', { id: `paper-${m.question}`, class: 'paper', type: 'text', autocomplete: 'off', 'aria-label': [q.number, t('paper_value')].filter(Boolean).join(' ') });
    inputs.set(m.question, input);
    const error = h('div', { class: 'error' });
    // A problem said here goes as soon as the box holds a value the question takes.
    const recheck = () => {
      if (error.textContent !== '' && !('problem' in paperValue(m, input.value))) error.textContent = '';
    };
    input.addEventListener('input', recheck);
    const take = (label: string, v: keying.Answer | null, cls: string) =>
      h('button', { type: 'button', class: `secondary ${cls}`, onclick: () => { input.value = keying.formatAnswer(v); recheck(); } }, label);
    return h(
      'div',
      { class: 'mismatch card', 'data-question': m.question },
      h('h3', {}, q.number ? `${q.number}. ${text(q.label)}` : text(q.label)),
      h('p', {}, `${t('first_keying')}: `, h('b', { class: 'first' }, labelled(q, m.first)), ` · ${t('second_keying')}: `, h('b', { class: 'second' }, labelled(q, m.second))),
      h('label', {}, t('paper_value'), input),
      take(t('take_first'), m.first, 'take-first'),
      take(t('take_second'), m.second, 'take-second'),
      error,
    );
  });
  const confirm = h(
    'button',
    {
      id: 'confirm-verification',
      onclick: async () => {
        const resolutions: Record<string, keying.Answer | null> = {};
        // A problem is said at its question, and the cursor put there.
        const refuse = (qid: string, message: string) => {
          const row = section.querySelector<HTMLElement>(`[data-question="${qid}"] .error`);
          if (row) row.textContent = message;
          inputs.get(qid)?.focus();
        };
        for (const m of mismatches) {
          const read = paperValue(m, inputs.get(m.question)!.value);
          if ('problem' in read) return refuse(m.question, read.problem);
          section.querySelector<HTMLElement>(`[data-question="${m.question}"] .error`)!.textContent = '';
          resolutions[m.question] = read.value;
        }
        try {
          await api.finishVerification(id, resolutions);
          location.hash = href({ name: 'household', id });
        } catch (e) {
          const q = (e as { code?: string; question?: string }).question;
          const question = q ? byId.get(q) : undefined;
          if (q && inputs.has(q)) return refuse(q, t('paper_value_needed'));
          if (question) flash(section, t('unfinished_at', { number: question.number, label: text(question.label) }));
          else flash(section, ctx.errorText(e));
        }
      },
    },
    t('confirm_verification'),
  );
  // Enter on a paper value goes on to the next difference, and from the last to «Xác nhận».
  const order = [...inputs.values()];
  order.forEach((input, k) =>
    input.addEventListener('keydown', (e: KeyboardEvent) => {
      if (e.key !== 'Enter' || e.isComposing) return;
      e.preventDefault();
      (order[k + 1] ?? confirm).focus();
    }),
  );
  // The keyer starts on the first difference, with the paper in hand.
  section.addEventListener(SHOWN, () => inputs.values().next().value?.focus(), { once: true });
  append(
    section,
    h('a', { href: href({ name: 'key', id, pass: 2 }), class: 'back' }, t('back')),
    h('h1', {}, t('verify_title', { serial: x?.serial ?? id })),
    mismatches.length === 0 ? h('p', { id: 'no-mismatch' }, t('verify_none')) : null,
    rows,
    h('div', { class: 'actions' }, confirm),
  );
  return section;
}

// ---- Parcels ------------------------------------------------------------------------------

/** A printable hand-over slip: the forms by serial with their households, and the lines both
 * sides sign. Shown only on paper (print styles); a draft before the hand-over. */
function parcelSlip(title: string, enumerator: string, at: string | null, forms: Household[], parcelId: string | null): HTMLElement {
  return h(
    'div',
    { class: 'slip print-only' },
    h('h2', {}, title),
    h('p', {}, `${t('slip_enumerator')}: ${enumerator}`, at ? ` · ${t('handed_over_at', { at: formatDateTime(at) })}` : ` · ${t('slip_draft')}`),
    parcelId ? h('p', { class: 'slip-code' }, `${t('slip_parcel_code')}: `, h('strong', {}, parcelCode(parcelId))) : null,
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, t('serial')), h('th', {}, t('slip_household')), h('th', {}, t('address')))),
      h('tbody', {}, forms.map((x, i) => h('tr', {}, h('td', {}, i + 1), h('td', {}, x.serial), h('td', {}, x.name), h('td', {}, x.address)))),
    ),
    h('p', {}, t('forms_count', { n: forms.length })),
    h('div', { class: 'signatures' }, h('div', {}, t('slip_giver'), h('br'), t('slip_sign')), h('div', {}, t('slip_receiver'), h('br'), t('slip_sign'))),
  );
}

/** A parcel's code as people read it aloud and write it on the box: the first eight letters of
 * its id in two groups («3F2A-91C0»), enough to tell one enumerator's parcels apart and to
 * find the parcel at the centre, where the whole id is kept. */
export function parcelCode(id: string): string {
  const letters = id.replace(/-/g, '').slice(0, 8).toUpperCase();
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

async function parcels(ctx: Context): Promise<HTMLElement> {
  const [list, made] = await Promise.all([api.households(), api.parcels()]);
  const bySerial = new Map(list.map((x) => [x.serial, x]));
  const readyStatus = ctx.overview.verification_required ? 'verified' : 'transcribed';
  const ready = list.filter((x) => x.status === readyStatus && x.assigned);
  const boxes = new Map<string, HTMLInputElement>();
  const section = h('section', {});
  const enumerator = ctx.overview.enumerator_name ?? '';
  const chosen = () => [...boxes].filter(([, b]) => b.checked).map(([id]) => id);
  // Handing over cannot be taken back: the box says how many forms go, and asks once more.
  const confirmBox = h('div', { id: 'confirm', class: 'confirm', hidden: true });
  const handOver = async () => {
    try {
      await api.handOverParcel(chosen());
      await ctx.refresh();
      flash(document.querySelector('main section') as HTMLElement, t('parcel_made', { n: chosen().length }), 'ok');
    } catch (e) {
      flash(section, ctx.errorText(e));
    }
  };
  const make = h(
    'button',
    {
      id: 'make-parcel',
      disabled: ready.length === 0,
      onclick: () => {
        const n = chosen().length;
        if (n === 0) return flash(section, t('parcel_none_chosen'));
        confirmBox.replaceChildren(
          h('p', {}, t('confirm_parcel', { n })),
          h('button', { id: 'make-parcel-confirm', class: 'danger', onclick: () => handOver() }, t('confirm_yes', { action: t('make_parcel') })),
          h('button', { id: 'make-parcel-cancel', class: 'secondary', onclick: () => confirmBox.toggleAttribute('hidden', true) }, t('cancel')),
        );
        confirmBox.toggleAttribute('hidden', false);
        (confirmBox.querySelector('#make-parcel-confirm') as HTMLElement | null)?.focus();
      },
    },
    t('make_parcel'),
  );
  const numbered = [...made].reverse().map((p, i) => ({ p, n: i + 1 }));
  const others = ctx.tablet.campaigns.filter((c) => c.id !== ctx.overview.id);
  append(
    section,
    h('h1', {}, t('parcels_title')),
    others.length > 0
      ? h(
          'p',
          { class: 'campaign-switch' },
          h('strong', {}, ctx.overview.campaign ?? ctx.overview.id),
          others.flatMap((c) => [' · ', h('a', { href: href({ name: 'parcels', campaign: c.id }), 'data-campaign': c.id }, c.campaign ?? c.id)]),
        )
      : null,
    h('h2', {}, t('ready_forms')),
    ready.length === 0
      ? h('p', { class: 'muted' }, t('none_ready'))
      : h(
          'ul',
          { class: 'ready' },
          ready.map((x) => {
            const box = h('input', { type: 'checkbox', checked: true, 'data-household': x.id });
            boxes.set(x.id, box);
            return h('li', {}, h('label', {}, box, ` ${x.serial} — ${x.name}`));
          }),
        ),
    h('div', { class: 'actions' }, make, h('button', { id: 'print-slip', class: 'secondary', onclick: () => window.print() }, t('print'))),
    confirmBox,
    ready.length > 0 ? parcelSlip(t('slip_title'), enumerator, null, ready, null) : null,
    numbered.reverse().map(({ p, n }) => {
      const forms = p.serials.map((serial) => bySerial.get(serial) ?? { id: '', village: '', serial, name: '', address: '', reserve_rank: null, status: '', assigned: true, moved_to: null, carried_from: null, replaces: null });
      return h(
        'div',
        { class: 'card parcel', 'data-parcel': p.id },
        h('h3', {}, t('parcel_number', { n }), ' · ', t('forms_count', { n: p.serials.length }), ' · ', h('span', { class: 'parcel-code' }, `${t('slip_parcel_code')}: `, h('strong', {}, parcelCode(p.id)))),
        p.handed_over_at ? h('p', { class: 'muted' }, t('handed_over_at', { at: formatDateTime(p.handed_over_at) })) : null,
        h('ul', { class: 'serials' }, forms.map((x) => h('li', {}, `${x.serial} — ${x.name}`))),
        parcelSlip(`${t('slip_title')} — ${t('parcel_number', { n })}`, enumerator, p.handed_over_at, forms, p.id),
      );
    }),
  );
  return section;
}

// ---- Sync ---------------------------------------------------------------------------------

/** How long without a key the keying screen waits before a click finishes or leaves it: keys
 * of a burst still on their way from the keyboard arrive within it (on a loaded tablet the
 * input queue can pause for a few hundred milliseconds mid-burst). */
const KEYS_QUIET_MS = 700;

/** How long after an answer's save, with no other, the keying screen's progress bar is redrawn:
 * a keyer who pauses sees it at once; one keying at full speed sees it at the next pause. */
const PROGRESS_AFTER_MS = 400;

/** What the screen in front needs done before another replaces it (the keying screen: save
 * every key typed and the box in hand). */
let leaving: (() => Promise<void>) | null = null;

export async function beforeLeave(): Promise<void> {
  const f = leaving;
  leaving = null;
  if (f) await f();
}

let progressBar: HTMLProgressElement | null = null;
let syncStatus: HTMLElement | null = null;
/** How the last sync ended, shown again when the screen is redrawn. */
let lastSyncMessage = '';

export function showProgress(p: Progress): void {
  if (progressBar) {
    progressBar.max = Math.max(1, p.bytes_total);
    progressBar.value = p.bytes_sent;
  }
  if (syncStatus) syncStatus.textContent = t('syncing', { sent: p.events_sent, total: p.events_total });
}

export function syncFinished(d: SyncDone, errorText: (e: unknown) => string): void {
  if (d.error) lastSyncMessage = (d.failed ? `${d.failed}: ` : '') + errorText(d.error);
  else if (d.report) {
    const at = formatTime(new Date());
    const which = d.campaigns.length > 0 ? ` (${d.campaigns.join('; ')})` : '';
    lastSyncMessage = (d.asked ? '' : `${t('sync_auto', { time: at })} `) + t('sync_done', { events: d.report.events_acknowledged, rejected: d.report.events_rejected }) + which;
  }
  if (syncStatus) syncStatus.textContent = lastSyncMessage;
}

async function sync(ctx: Context): Promise<HTMLElement> {
  const o = ctx.tablet;
  // Refused work of every campaign, each named by its households in that campaign.
  const perCampaign = await Promise.all(
    o.campaigns.map(async (c) => {
      const [refused, list] = await Promise.all([api.rejectedEvents(c.id), api.households(c.id)]);
      const byId = new Map(list.map((x) => [x.id, x]));
      return refused.map((r) => ({ r, campaign: c, byId }));
    }),
  );
  const rejected = perCampaign.flat();
  const several = o.campaigns.length > 1;
  progressBar = h('progress', { id: 'sync-progress', max: 1, value: 0 });
  syncStatus = h('p', { id: 'sync-status', 'aria-live': 'polite' }, lastSyncMessage);
  const lastStatus = syncStatus;
  return h(
    'section',
    {},
    h('h1', {}, t('sync_title')),
    h('p', { id: 'pending' }, t('pending_events', { n: o.pending.events_total })),
    o.pending.bytes_total > 0 ? h('p', {}, t('pending_bytes', { kb: (o.pending.bytes_total / 1024).toFixed(1) })) : null,
    h('p', { class: 'muted' }, t('last_contact', { at: o.last_contact ? formatDateTime(o.last_contact) : t('never') })),
    h(
      'button',
      {
        id: 'sync-now',
        onclick: async () => {
          const started = await api.syncNow();
          if (!started) lastStatus.textContent = t('sync_busy');
        },
      },
      t('sync_now'),
    ),
    progressBar,
    syncStatus,
    h('h2', {}, t('rejected_title')),
    rejected.length === 0
      ? h('p', { class: 'muted' }, t('rejected_none'))
      : h(
          'ul',
          { class: 'rejected' },
          // One line per household (its refused work together, said once), as the supervisor
          // decides it together.
          groupByHousehold(rejected).map((group) => {
            const { r, campaign, byId } = group[0];
            const householdName = (id: string) => {
              const x = byId.get(id);
              return x ? `${x.name} (${x.serial})` : id;
            };
            const waiting = group.find((g) => !g.r.resolution);
            return h(
              'li',
              { 'data-code': r.code, 'data-resolution': waiting ? 'waiting' : (r.resolution ?? 'waiting'), 'data-campaign': campaign.id },
              several ? h('span', { class: 'muted' }, `${campaign.campaign ?? campaign.id}: `) : null,
              h('b', {}, group.map((g) => tDynamic(`kind_${g.r.kind}`, g.r.kind)).join(', ')),
              r.household ? ` — ${householdName(r.household)}` : '',
              waiting ? h('p', { class: 'error' }, `${t('rejected_what')}: ${whatToDo(waiting.r, householdName, (hid) => byId.get(hid))}`) : null,
              h('p', { class: waiting ? 'resolution muted' : 'resolution' }, resolutionText(waiting ? waiting.r : r)),
              lang() === 'en' ? h('p', { class: 'muted' }, r.reason) : null,
            );
          }),
        ),
  );
}

/** Refused work in lines of one household each (work that names no household alone). */
function groupByHousehold<T extends { r: { event: string; household: string | null }; campaign: { id: string } }>(all: T[]): T[][] {
  const groups: T[][] = [];
  for (const item of all) {
    const key = item.r.household ? `${item.campaign.id}/${item.r.household}` : item.r.event;
    const found = groups.find((g) => (g[0].r.household ? `${g[0].campaign.id}/${g[0].r.household}` : g[0].r.event) === key);
    if (found) found.push(item);
    else groups.push([item]);
  }
  return groups;
}

/** Collecting before the collection window opens is flagged by the ministry as an anomaly: the
 * warning to show before it, or null when the window is open (or past). */
export function collectingTooEarly(timeline: { distribute: { end: string }; collect: { start: string } } | null, today: string | null): string | null {
  if (!timeline || !today || today >= timeline.collect.start) return null;
  return t('collect_too_early', { start: formatDate(timeline.collect.start) });
}
