/**
 * The local console in the browser: "Firmele mele" → company → "Credențiale ANAF" against the real API.
 * One state object, one render that rebuilds the page from it (input values, open journals and focus
 * carried over), every text through the dictionaries, every value set as text (never as HTML).
 * It never calls the access-token route: no token ever reaches this page.
 */
import { normalizeCui } from '../../../shared/domain/cui.js';
import type { AuditEvent as ApiAuditEvent, CompanyView, TokenView } from '../../../shared/domain/model.js';
import type { toAnafClientView } from '../../../shared/services/tenants.js';
import { ApiError, createApi } from './api.js';
import type { ConsoleConfig } from './config.js';
import { daysLeft, formatDateTime, formatSeconds, relativeTime, type Lang } from './format.js';
import { DICTIONARIES, lookup, type Dict, type PlainKey } from './i18n.js';

// The API's own answer shapes (types only: nothing of shared/ but the CUI check is bundled).
type AnafClient = ReturnType<typeof toAnafClientView>;
type Company = CompanyView & { spvRights?: string };
type Token = TokenView;
type AuditEvent = Omit<ApiAuditEvent, 'tenantId'>;
interface EmulatorState {
  authorizeMode: string;
  tokenLifetimes: { accessSeconds: number; refreshSeconds: number };
  tokenBehaviour: { format: string; omitRefreshToken: boolean; refusedRefreshError: string };
  pendingFailures: string[];
  stats: { tokenCalls: { authorization_code: number; refresh_token: number } };
}
type Result = { kind: 'connected'; tokenId: string } | { kind: 'error'; reason: string };
interface Message {
  ok: boolean;
  text: string;
}

const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const FAILURE_KINDS = ['invalid_grant', 'invalid_client', 'unavailable', 'server_error', 'rate_limited', 'invalid_request', 'hang', 'drop'] as const;
const POLL_MS = 5000;

const config = JSON.parse(document.getElementById('console-config')!.textContent!) as ConsoleConfig;
const api = createApi(config.apiKey);
const app = document.getElementById('app')!;
const stored = (key: string) => {
  try {
    return localStorage.getItem(`anaf-console.${key}`);
  } catch {
    return null;
  }
};
const store = (key: string, value: string) => {
  try {
    localStorage.setItem(`anaf-console.${key}`, value);
  } catch {
    // private mode: the choice lasts for this page only
  }
};

const state = {
  lang: (stored('lang') === 'en' ? 'en' : 'ro') as Lang,
  tenants: JSON.parse(stored('tenants') ?? '[]') as string[],
  tenantId: stored('tenant'),
  client: undefined as AnafClient | null | undefined,
  companies: [] as Company[],
  tokens: [] as Token[],
  events: [] as AuditEvent[],
  emulator: null as EmulatorState | null,
  selected: new Set<string>(),
  result: null as Result | null,
  link: null as { url: string; expiresAt: string } | null,
  messages: new Map<string, Message>(),
  autoRefresh: true,
  /** False until the first data arrived: a result is announced with the companies it names. */
  loaded: false,
  /** Inputs whose typed value must not survive the next render (the secret after saving). */
  clear: new Set<string>(),
};

const t = (): Dict => DICTIONARIES[state.lang];
const text = (key: PlainKey): string => t()[key];
const tenantPath = (suffix = '') => `/v1/tenants/${encodeURIComponent(state.tenantId!)}${suffix}`;

// ---- DOM helpers: elements with text children only ----

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(name.slice('on:'.length), value);
    else if (value === true) el.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

function field(id: string, label: string, input: HTMLElement, hint?: HTMLElement): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint);
}

function messageLine(key: string): HTMLElement {
  const message = state.messages.get(key);
  return h('p', { id: `msg-${key}`, class: message ? (message.ok ? 'msg ok' : 'msg error') : 'msg', role: 'status' }, message?.text);
}

function when(iso: string | null): Child {
  if (!iso) return text('none');
  return h('time', { datetime: iso }, formatDateTime(iso, state.lang), h('br'), h('span', { class: 'rel' }, relativeTime(iso, new Date(), state.lang)));
}

// ---- actions ----

function say(key: string, ok: boolean, message: string): void {
  state.messages.set(key, { ok, text: message });
}

function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'NETWORK') return text('networkError');
    return `${text('errorPrefix')} ${error.status} ${error.code}: ${error.message}`;
  }
  return `${text('errorPrefix')}: ${(error as Error)?.message ?? String(error)}`;
}

/** Runs an action, records its outcome under `key`, reloads the data and renders. */
async function act(key: string, run: () => Promise<string | null>): Promise<void> {
  try {
    const done = await run();
    if (done !== null) say(key, true, done);
  } catch (error) {
    say(key, false, errorText(error));
  }
  await reload();
  render();
}

function selectTenant(tenantId: string): void {
  state.tenantId = tenantId;
  if (!state.tenants.includes(tenantId)) state.tenants = [...state.tenants, tenantId].sort();
  store('tenants', JSON.stringify(state.tenants));
  store('tenant', tenantId);
  state.selected.clear();
  state.link = null;
  state.messages.clear();
  state.client = undefined;
}

async function reload(): Promise<void> {
  if (config.emulator) {
    state.emulator = await api.get<EmulatorState>('/__local/emulator/state').catch(() => null);
  }
  if (!state.tenantId) return;
  try {
    state.client = await api.get<AnafClient>(tenantPath('/anaf-client'));
  } catch (error) {
    if (error instanceof ApiError && error.code === 'TENANT_NOT_FOUND') {
      state.client = null;
      state.companies = [];
      state.tokens = [];
      state.events = [];
      return;
    }
    say('tenant', false, errorText(error));
    return;
  }
  try {
    const [companies, tokens, events] = await Promise.all([
      api.get<{ companies: Company[] }>(tenantPath('/companies')),
      api.get<{ tokens: Token[] }>(tenantPath('/tokens')),
      api.get<{ events: AuditEvent[] }>(tenantPath('/events?limit=100')),
    ]);
    state.companies = companies.companies;
    state.tokens = tokens.tokens;
    state.events = events.events;
    for (const cui of state.selected) if (!state.companies.some((c) => c.cui === cui)) state.selected.delete(cui);
  } catch (error) {
    say('tenant', false, errorText(error));
  }
}

const returnUrl = () => (config.returnUrl ? `${config.returnUrl}?tenant=${encodeURIComponent(state.tenantId!)}` : undefined);

/** "Conectare la ANAF": a connect session that comes back here, opened in this tab. */
async function connect(cuis: string[], key: string): Promise<void> {
  if (cuis.length === 0) {
    say(key, false, text('selectCompaniesFirst'));
    render();
    return;
  }
  try {
    const session = await api.post<{ authorizeUrl: string }>(tenantPath('/connect-sessions'), { cuis, returnUrl: returnUrl() });
    say(key, true, text('connecting'));
    render();
    location.assign(session.authorizeUrl);
  } catch (error) {
    say(key, false, errorText(error));
    render();
  }
}

/** "Copiază linkul": a day-long session without a return URL, for the accountant on another machine. */
async function copyLink(): Promise<void> {
  const cuis = [...state.selected];
  if (cuis.length === 0) {
    say('connect', false, text('selectCompaniesFirst'));
    render();
    return;
  }
  await act('connect', async () => {
    const session = await api.post<{ authorizeUrl: string; expiresAt: string }>(tenantPath('/connect-sessions'), { cuis, ttlSeconds: 86_400 });
    state.link = { url: session.authorizeUrl, expiresAt: session.expiresAt };
    try {
      await navigator.clipboard.writeText(session.authorizeUrl);
      return text('linkCopied');
    } catch {
      return text('linkNotCopied');
    }
  });
  const input = document.getElementById('connect-link') as HTMLInputElement | null;
  input?.focus();
  input?.select();
}

async function emulatorCall(action: string, body: unknown): Promise<string> {
  await api.post(`/__local/emulator/${action}`, body);
  return text('saved');
}

const numberOrUndefined = (value: string) => (value.trim() === '' ? undefined : Number(value));

// ---- rendering ----

function render(): void {
  const snapshot = captureInputs();
  document.documentElement.lang = state.lang;
  document.title = `${text('title')} · ANAF e-Factura broker`;
  const parts = !state.loaded ? [renderHeader(), h('p', { id: 'loading' }, text('loading'))] : [
    renderHeader(),
    renderResult(),
    renderTenant(),
    state.tenantId && state.client ? renderCompanies() : null,
    state.tenantId && state.client ? renderTokens() : null,
    config.emulator ? renderEmulator() : null,
  ];
  app.replaceChildren(...parts.filter((part): part is HTMLElement => part !== null));
  restoreInputs(snapshot);
  updateCuiHint();
}

interface Snapshot {
  values: Map<string, { value: string; checked: boolean }>;
  open: Set<string>;
  focus: { id: string; start: number | null; end: number | null } | null;
}

function captureInputs(): Snapshot {
  const values = new Map<string, { value: string; checked: boolean }>();
  for (const el of app.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input[id], select[id]')) {
    if (el.dataset.controlled !== undefined || state.clear.has(el.id)) continue;
    values.set(el.id, { value: el.value, checked: el instanceof HTMLInputElement && el.checked });
  }
  state.clear.clear();
  const open = new Set([...app.querySelectorAll<HTMLDetailsElement>('details[id]')].filter((d) => d.open).map((d) => d.id));
  const active = document.activeElement as HTMLInputElement | null;
  const focus = active?.id && app.contains(active) ? { id: active.id, start: safeSelection(active, 'selectionStart'), end: safeSelection(active, 'selectionEnd') } : null;
  return { values, open, focus };
}

function restoreInputs(snapshot: Snapshot): void {
  for (const [id, saved] of snapshot.values) {
    const el = document.getElementById(id) as HTMLInputElement | HTMLSelectElement | null;
    if (!el || el.dataset.controlled !== undefined) continue;
    if (el instanceof HTMLInputElement && (el.type === 'checkbox' || el.type === 'radio')) el.checked = saved.checked;
    else el.value = saved.value;
  }
  for (const id of snapshot.open) (document.getElementById(id) as HTMLDetailsElement | null)?.setAttribute('open', '');
  if (snapshot.focus) {
    const el = document.getElementById(snapshot.focus.id) as HTMLInputElement | null;
    el?.focus({ preventScroll: true });
    if (el && snapshot.focus.start !== null) {
      try {
        el.setSelectionRange(snapshot.focus.start, snapshot.focus.end);
      } catch {
        // not a text input
      }
    }
  }
}

function safeSelection(el: HTMLInputElement, name: 'selectionStart' | 'selectionEnd'): number | null {
  try {
    return el[name];
  } catch {
    return null;
  }
}

function renderHeader(): HTMLElement {
  const other: Lang = state.lang === 'ro' ? 'en' : 'ro';
  return h(
    'header',
    {},
    h('div', {}, h('h1', {}, text('title')), h('p', { class: 'subtitle' }, text('subtitle'))),
    h(
      'div',
      { class: 'header-actions' },
      h(
        'button',
        {
          type: 'button',
          id: 'lang-toggle',
          lang: other,
          'aria-label': text('switchLanguageLabel'),
          'on:click': () => {
            state.lang = other;
            store('lang', other);
            render();
          },
        },
        text('switchLanguage'),
      ),
      h(
        'button',
        { type: 'button', id: 'reload', 'on:click': () => void act('tenant', async () => null) },
        text('refreshData'),
      ),
      h(
        'label',
        { class: 'inline' },
        h('input', {
          type: 'checkbox',
          id: 'auto-refresh',
          'data-controlled': true,
          checked: state.autoRefresh,
          'on:change': (e) => (state.autoRefresh = (e.target as HTMLInputElement).checked),
        }),
        ` ${text('autoRefresh')}`,
      ),
    ),
  );
}

function renderResult(): HTMLElement {
  const result = state.result;
  const box = h('div', { id: 'result', tabindex: -1, role: 'status', class: result ? `result ${result.kind === 'connected' ? 'ok' : 'error'}` : 'result empty' });
  if (!config.returnUrl) box.append(h('p', { class: 'warning' }, text('noReturnUrl')));
  if (!result) return box;
  let message: string;
  if (result.kind === 'connected') {
    const names = state.companies.filter((c) => c.tokenId === result.tokenId).map(companyLabel);
    const params = { tokenId: result.tokenId, companies: names.join(', ') || result.tokenId };
    message = names.length === 1 ? t().resultConnectedOne(params) : t().resultConnected(params);
  } else {
    const known = `reason_${result.reason}`;
    message = lookup(state.lang, known, t().reasonOther({ reason: result.reason }));
  }
  box.append(
    h('p', { id: 'result-text' }, message, result.kind === 'error' ? h('code', { class: 'code' }, ` ${result.reason}`) : null),
    h('button', { type: 'button', id: 'result-close', 'on:click': () => ((state.result = null), render()) }, text('close')),
  );
  return box;
}

function companyLabel(c: Company): string {
  return c.name ? `${c.name} (CUI ${c.cui})` : `CUI ${c.cui}`;
}

function renderTenant(): HTMLElement {
  const select = h(
    'select',
    {
      id: 'tenant-select',
      'data-controlled': true,
      'on:change': (e) => {
        const value = (e.target as HTMLSelectElement).value;
        if (!value) return;
        selectTenant(value);
        void act('tenant', async () => null);
      },
    },
    h('option', { value: '' }, text('tenantNone')),
    ...state.tenants.map((id) => h('option', { value: id, selected: id === state.tenantId }, id)),
  );
  const tenantForm = h(
    'form',
    {
      id: 'tenant-form',
      'on:submit': (e) => {
        e.preventDefault();
        const input = document.getElementById('tenant-id') as HTMLInputElement;
        const id = input.value.trim();
        if (!TENANT_ID.test(id)) {
          say('tenant', false, text('tenantInvalid'));
          render();
          return;
        }
        state.clear.add('tenant-id');
        selectTenant(id);
        void act('tenant', async () => null).then(() => focusFirst(state.client ? '#connect' : '#client-id'));
      },
    },
    field('tenant-id', text('tenantId'), h('input', { id: 'tenant-id', name: 'tenantId', autocomplete: 'off', pattern: '[A-Za-z0-9_\\-]{1,64}', required: true })),
    h('button', { type: 'submit', id: 'tenant-open' }, text('tenantOpen')),
  );
  return h(
    'section',
    { 'aria-labelledby': 'tenant-heading' },
    h('h2', { id: 'tenant-heading' }, text('tenantHeading')),
    h('p', { class: 'intro' }, text('tenantIntro')),
    h('div', { class: 'row' }, field('tenant-select', text('tenantSelect'), select), tenantForm),
    messageLine('tenant'),
    state.tenantId ? renderClient() : h('p', {}, text('selectTenantFirst')),
  );
}

function renderClient(): HTMLElement {
  const client = state.client;
  const status =
    client === undefined
      ? text('loading')
      : client === null
        ? text('clientMissing')
        : t().clientConfigured({ clientId: client.clientId, at: formatDateTime(client.updatedAt, state.lang) });
  const form = h(
    'form',
    {
      id: 'client-form',
      autocomplete: 'off',
      'on:submit': (e) => {
        e.preventDefault();
        const clientId = (document.getElementById('client-id') as HTMLInputElement).value.trim();
        const secret = document.getElementById('client-secret') as HTMLInputElement;
        const clientSecret = secret.value;
        // The secret leaves the page with this request and is never shown again.
        secret.value = '';
        state.clear.add('client-secret');
        void act('client', async () => {
          await api.put(tenantPath('/anaf-client'), { clientId, clientSecret });
          return text('clientSaved');
        });
      },
    },
    h('div', { class: 'row' }, field('client-id', text('clientId'), h('input', { id: 'client-id', name: 'clientId', required: true, autocomplete: 'off', value: client?.clientId ?? '' })), field('client-secret', text('clientSecret'), h('input', { id: 'client-secret', name: 'clientSecret', type: 'password', required: true, autocomplete: 'new-password' }))),
    h(
      'div',
      { class: 'buttons' },
      config.emulatorClient
        ? h(
            'button',
            {
              type: 'button',
              id: 'client-fill-emulator',
              'on:click': () => {
                (document.getElementById('client-id') as HTMLInputElement).value = config.emulatorClient!.clientId;
                (document.getElementById('client-secret') as HTMLInputElement).value = config.emulatorClient!.clientSecret;
              },
            },
            text('clientFillEmulator'),
          )
        : null,
      h('button', { type: 'submit', id: 'client-save' }, text('clientSave')),
    ),
  );
  return h(
    'div',
    { class: 'panel', 'aria-labelledby': 'client-heading', role: 'group' },
    h('h3', { id: 'client-heading' }, `${text('clientHeading')} · ${state.tenantId}`),
    h('p', { id: 'client-status' }, status),
    form,
    messageLine('client'),
  );
}

function renderCompanies(): HTMLElement {
  const activeTokens = state.tokens.filter((tok) => tok.status === 'active');
  const form = h(
    'form',
    {
      id: 'company-form',
      novalidate: true,
      'on:submit': (e) => {
        e.preventDefault();
        const raw = (document.getElementById('company-cui') as HTMLInputElement).value;
        const name = (document.getElementById('company-name') as HTMLInputElement).value.trim();
        // The server is the authority: an invalid CUI is sent too, and its refusal shown.
        const cui = normalizeCui(raw) ?? raw.trim();
        void act('company', async () => {
          const saved = await api.put<Company>(tenantPath(`/companies/${encodeURIComponent(cui)}`), name ? { name } : {});
          state.clear.add('company-cui');
          state.clear.add('company-name');
          state.selected.add(saved.cui);
          return t().companyAdded({ cui: saved.cui });
        });
      },
    },
    h(
      'div',
      { class: 'row' },
      field(
        'company-cui',
        text('cui'),
        h('input', { id: 'company-cui', name: 'cui', inputmode: 'text', autocomplete: 'off', 'aria-describedby': 'company-cui-hint', 'on:input': updateCuiHint }),
        h('span', { id: 'company-cui-hint', class: 'hint', 'aria-live': 'polite' }),
      ),
      field('company-name', text('companyName'), h('input', { id: 'company-name', name: 'name', autocomplete: 'off', maxlength: 256 })),
    ),
    h('button', { type: 'submit', id: 'company-add' }, text('companyAdd')),
  );

  const rows = state.companies.map((c) => {
    const label = companyLabel(c);
    const linkId = `link-${c.cui}`;
    const actions = h('div', { class: 'actions' });
    if (c.status === 'not-connected' && activeTokens.length > 0) {
      actions.append(
        h('label', { for: linkId, class: 'sr-only' }, `${text('linkToToken')} (${label})`),
        h('select', { id: linkId }, ...activeTokens.map((tok) => h('option', { value: tok.tokenId }, `${tok.tokenId} · ${tok.serial ?? ''}`))),
        h(
          'button',
          {
            type: 'button',
            id: `link-button-${c.cui}`,
            'on:click': () => {
              const tokenId = (document.getElementById(linkId) as HTMLSelectElement).value;
              void act('company', async () => {
                await api.put(tenantPath(`/companies/${c.cui}`), { tokenId });
                return t().linked({ cui: c.cui, tokenId });
              });
            },
          },
          text('link'),
        ),
      );
    }
    actions.append(
      h(
        'button',
        {
          type: 'button',
          id: `remove-${c.cui}`,
          class: 'secondary',
          'aria-label': `${text('remove')}: ${label}`,
          'on:click': () =>
            void act('company', async () => {
              await api.del(tenantPath(`/companies/${c.cui}`));
              state.selected.delete(c.cui);
              return t().removed({ cui: c.cui });
            }),
        },
        text('remove'),
      ),
    );
    return h(
      'tr',
      { id: `company-${c.cui}`, 'data-status': c.status },
      h(
        'td',
        {},
        h('input', {
          type: 'checkbox',
          id: `select-${c.cui}`,
          'data-controlled': true,
          checked: state.selected.has(c.cui),
          'aria-label': t().selectCompany({ name: label }),
          'on:change': (e) => {
            if ((e.target as HTMLInputElement).checked) state.selected.add(c.cui);
            else state.selected.delete(c.cui);
          },
        }),
      ),
      h('th', { scope: 'row' }, c.name ?? text('none'), h('br'), h('span', { class: 'cui' }, `CUI ${c.cui}`)),
      h('td', {}, h('span', { class: `badge ${c.status}` }, lookup(state.lang, `status_${c.status}`, c.status))),
      h('td', { class: 'token-id' }, c.tokenId ?? text('none')),
      h('td', { class: 'access' }, when(c.accessExpiresAt)),
      h('td', { class: 'refresh' }, when(c.refreshExpiresAt)),
      h('td', { class: 'coverage' }, lookup(state.lang, `coverage_${c.spvRights ?? 'unknown'}`, c.spvRights ?? '')),
      h('td', {}, actions),
    );
  });

  const table = state.companies.length
    ? h(
        'table',
        { id: 'companies' },
        h('caption', { class: 'sr-only' }, text('companiesHeading')),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...(['colSelect', 'colCompany', 'colStatus', 'colToken', 'colAccess', 'colRefresh', 'colCoverage', 'colActions'] as const).map((key) =>
              h('th', { scope: 'col' }, text(key)),
            ),
          ),
        ),
        h('tbody', {}, ...rows),
      )
    : h('p', { id: 'companies-empty' }, text('noCompanies'));

  const link = state.link
    ? field(
        'connect-link',
        t().linkLabel({ at: formatDateTime(state.link.expiresAt, state.lang) }),
        h('input', { id: 'connect-link', readonly: true, 'data-controlled': true, value: state.link.url, 'on:focus': (e) => (e.target as HTMLInputElement).select() }),
      )
    : null;

  return h(
    'section',
    { 'aria-labelledby': 'companies-heading' },
    h('h2', { id: 'companies-heading' }, text('companiesHeading')),
    form,
    messageLine('company'),
    table,
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'button', id: 'connect', class: 'primary', 'on:click': () => void connect([...state.selected], 'connect') }, text('connect')),
      h('button', { type: 'button', id: 'copy-link', 'on:click': () => void copyLink() }, text('copyLink')),
    ),
    messageLine('connect'),
    link,
  );
}

function updateCuiHint(): void {
  const input = document.getElementById('company-cui') as HTMLInputElement | null;
  const hint = document.getElementById('company-cui-hint');
  if (!input || !hint) return;
  const value = input.value.trim();
  const cui = value ? normalizeCui(value) : null;
  hint.textContent = !value ? text('cuiEmpty') : cui ? t().cuiValid({ cui }) : text('cuiInvalid');
  hint.className = !value ? 'hint' : cui ? 'hint ok' : 'hint error';
  input.setAttribute('aria-invalid', value && !cui ? 'true' : 'false');
}

function renderTokens(): HTMLElement {
  const live = state.tokens.filter((tok) => tok.status !== 'disconnected').sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const gone = state.tokens.filter((tok) => tok.status === 'disconnected').sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return h(
    'section',
    { 'aria-labelledby': 'tokens-heading', id: 'tokens' },
    h('h2', { id: 'tokens-heading' }, text('tokensHeading')),
    h('p', { class: 'intro' }, text('tokensIntro')),
    live.length ? null : h('p', { id: 'tokens-empty' }, text('noTokens')),
    ...live.map(renderToken),
    gone.length ? h('h3', {}, text('disconnectedTokens')) : null,
    ...gone.map(renderToken),
  );
}

function renderToken(tok: Token): HTMLElement {
  const names = tok.cuis.map((cui) => {
    const company = state.companies.find((c) => c.cui === cui);
    return company ? companyLabel(company) : `CUI ${cui}`;
  });
  const now = new Date();
  const warnings: string[] = [];
  if (tok.status === 'reauth-required') warnings.push(text('warnReauth'));
  if (tok.status === 'active' && tok.lastError) warnings.push(t().warnLastError({ code: tok.lastError }));
  if (tok.status === 'active' && daysLeft(tok.refreshExpiresAt, now) < 30) {
    warnings.push(t().warnRefreshEnds({ when: relativeTime(tok.refreshExpiresAt, now, state.lang) }));
  }
  const events = state.events.filter((e) => e.tokenId === tok.tokenId);
  const key = `token-${tok.tokenId}`;
  const buttons = h('div', { class: 'buttons' });
  if (tok.status !== 'disconnected') {
    buttons.append(
      h(
        'button',
        {
          type: 'button',
          id: `refresh-${tok.tokenId}`,
          'on:click': () =>
            void act(key, async () => {
              const after = await api.post<Token>(tenantPath(`/tokens/${tok.tokenId}/refresh`));
              const skipped = tok.lastRefreshAt !== null && after.lastRefreshAt === tok.lastRefreshAt;
              return skipped ? text('refreshCooldown') : t().refreshed({ at: formatDateTime(after.accessExpiresAt, state.lang) });
            }),
        },
        text('refreshNow'),
      ),
      h(
        'button',
        {
          type: 'button',
          id: `disconnect-${tok.tokenId}`,
          class: 'danger',
          'on:click': () =>
            void act(key, async () => {
              await api.del(tenantPath(`/tokens/${tok.tokenId}`));
              return text('disconnected');
            }),
        },
        text('disconnect'),
      ),
    );
    if (tok.status === 'reauth-required') {
      buttons.append(h('button', { type: 'button', id: `reconnect-${tok.tokenId}`, class: 'primary', 'on:click': () => void connect(tok.cuis, key) }, text('reconnect')));
    }
  }
  return h(
    'article',
    { id: key, class: `token ${tok.status}`, 'data-status': tok.status, 'aria-labelledby': `${key}-title` },
    h('h3', { id: `${key}-title` }, h('span', { class: 'token-id' }, tok.tokenId), ' ', h('span', { class: `badge ${tok.status}` }, lookup(state.lang, `status_${tok.status}`, tok.status))),
    h(
      'dl',
      {},
      h('dt', {}, text('serial')),
      h('dd', {}, tok.serial ?? text('none')),
      h('dt', {}, text('companies')),
      h('dd', { class: 'token-companies' }, names.join(', ') || text('none')),
      h('dt', {}, text('access')),
      h('dd', { class: 'access' }, when(tok.accessExpiresAt)),
      h('dt', {}, text('refresh')),
      h('dd', { class: 'refresh' }, when(tok.refreshExpiresAt)),
      h('dt', {}, text('lastRefresh')),
      h('dd', { class: 'last-refresh' }, tok.lastRefreshAt ? when(tok.lastRefreshAt) : text('never')),
      h('dt', {}, text('lastError')),
      h('dd', { class: 'last-error' }, tok.lastError ?? text('none')),
    ),
    warnings.length ? h('ul', { class: 'warnings' }, ...warnings.map((w) => h('li', {}, w))) : null,
    buttons,
    messageLine(key),
    h(
      'details',
      { id: `journal-${tok.tokenId}`, class: 'journal' },
      h('summary', {}, t().journal({ n: events.length })),
      h('ol', {}, ...events.map(renderEvent)),
    ),
  );
}

function renderEvent(event: AuditEvent): HTMLElement {
  const details = Object.entries(event.details ?? {})
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([name, value]) => `${name}: ${value}`)
    .join(' · ');
  const days = event.type === 'expiring' && event.details?.days !== undefined ? t().warnExpiringEvent({ days: String(event.details.days) }) : null;
  return h(
    'li',
    { 'data-type': event.type },
    h('time', { datetime: event.at }, formatDateTime(event.at, state.lang)),
    ' ',
    h('strong', {}, lookup(state.lang, `event_${event.type}`, event.type)),
    event.cuis.length ? ` · CUI ${event.cuis.join(', ')}` : '',
    details ? h('span', { class: 'details' }, ` · ${details}`) : null,
    days ? h('span', { class: 'details' }, ` · ${days}`) : null,
  );
}

function renderEmulator(): HTMLElement {
  const emu = state.emulator;
  const facts = emu
    ? h(
        'dl',
        { id: 'emulator-state' },
        h('dt', {}, text('emulatorMode')),
        h('dd', {}, emu.authorizeMode),
        h('dt', {}, text('emulatorLifetimes')),
        h('dd', { id: 'emulator-lifetimes' }, `${formatSeconds(emu.tokenLifetimes.accessSeconds, state.lang)} / ${formatSeconds(emu.tokenLifetimes.refreshSeconds, state.lang)}`),
        h('dt', {}, text('emulatorPending')),
        h('dd', { id: 'emulator-pending' }, emu.pendingFailures.join(', ') || text('none')),
        h('dt', {}, text('emulatorCalls')),
        h('dd', {}, `${emu.stats.tokenCalls.authorization_code} / ${emu.stats.tokenCalls.refresh_token}`),
      )
    : h('p', {}, text('loading'));

  const lifetimes = h(
    'form',
    {
      id: 'emulator-lifetimes-form',
      'on:submit': (e) => {
        e.preventDefault();
        const accessSeconds = numberOrUndefined((document.getElementById('emu-access') as HTMLInputElement).value);
        const refreshSeconds = numberOrUndefined((document.getElementById('emu-refresh') as HTMLInputElement).value);
        void act('emulator', () => emulatorCall('token-lifetimes', { accessSeconds, refreshSeconds }));
      },
    },
    h('h3', {}, text('lifetimesHeading')),
    h(
      'div',
      { class: 'row' },
      field('emu-access', text('accessSeconds'), h('input', { id: 'emu-access', type: 'number', step: 1, placeholder: String(emu?.tokenLifetimes.accessSeconds ?? '') })),
      field('emu-refresh', text('refreshSeconds'), h('input', { id: 'emu-refresh', type: 'number', step: 1, placeholder: String(emu?.tokenLifetimes.refreshSeconds ?? '') })),
    ),
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit', id: 'emu-lifetimes-apply' }, text('apply')),
      h('button', { type: 'button', id: 'emu-preset-due', 'on:click': () => void act('emulator', () => emulatorCall('token-lifetimes', { accessSeconds: 10 * 86_400 })) }, text('presetDue')),
      h(
        'button',
        { type: 'button', id: 'emu-preset-default', 'on:click': () => void act('emulator', () => emulatorCall('token-lifetimes', { accessSeconds: 90 * 86_400, refreshSeconds: 365 * 86_400 })) },
        text('presetDefault'),
      ),
    ),
  );

  const fail = h(
    'form',
    {
      id: 'emulator-fail-form',
      'on:submit': (e) => {
        e.preventDefault();
        const kind = (document.getElementById('emu-fail-kind') as HTMLSelectElement).value;
        const count = Number((document.getElementById('emu-fail-count') as HTMLInputElement).value || '1');
        void act('emulator', () => emulatorCall('fail-next', { kind, count }));
      },
    },
    h('h3', {}, text('failHeading')),
    h(
      'div',
      { class: 'row' },
      field('emu-fail-kind', text('failKind'), h('select', { id: 'emu-fail-kind' }, ...FAILURE_KINDS.map((kind) => h('option', { value: kind }, lookup(state.lang, `kind_${kind}`, kind))))),
      field('emu-fail-count', text('failCount'), h('input', { id: 'emu-fail-count', type: 'number', min: 1, max: 100, step: 1, value: 1 })),
    ),
    h('button', { type: 'submit', id: 'emu-fail-apply' }, text('failSchedule')),
  );

  const behaviour = h(
    'form',
    {
      id: 'emulator-behaviour-form',
      'on:submit': (e) => {
        e.preventDefault();
        const format = (document.getElementById('emu-format') as HTMLSelectElement).value;
        const omitRefreshToken = (document.getElementById('emu-omit-refresh') as HTMLInputElement).checked;
        const refusedRefreshError = (document.getElementById('emu-refused-error') as HTMLSelectElement).value;
        void act('emulator', () => emulatorCall('token-behaviour', { format, omitRefreshToken, refusedRefreshError }));
      },
    },
    h('h3', {}, text('behaviourHeading')),
    h(
      'div',
      { class: 'row' },
      field('emu-format', text('format'), h('select', { id: 'emu-format' }, ...['jwt', 'opaque'].map((v) => h('option', { value: v, selected: emu?.tokenBehaviour.format === v }, v)))),
      field(
        'emu-refused-error',
        text('refusedRefreshError'),
        h('select', { id: 'emu-refused-error' }, ...['invalid_grant', 'invalid_request'].map((v) => h('option', { value: v, selected: emu?.tokenBehaviour.refusedRefreshError === v }, v))),
      ),
    ),
    h('label', { class: 'inline' }, h('input', { type: 'checkbox', id: 'emu-omit-refresh', checked: emu?.tokenBehaviour.omitRefreshToken ?? false }), ` ${text('omitRefreshToken')}`),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', id: 'emu-behaviour-apply' }, text('apply'))),
  );

  return h(
    'section',
    { 'aria-labelledby': 'emulator-heading', id: 'emulator' },
    h('h2', { id: 'emulator-heading' }, text('emulatorHeading')),
    h('p', { class: 'intro' }, text('emulatorIntro')),
    facts,
    messageLine('emulator'),
    h(
      'div',
      { class: 'buttons' },
      h(
        'button',
        {
          type: 'button',
          id: 'run-sweep',
          class: 'primary',
          'on:click': () =>
            void act('sweep', async () => {
              const summary = await api.post<Record<string, number | boolean>>('/__local/sweep');
              const parts = Object.entries(summary).filter(([name, value]) => name === 'due' || (value !== 0 && value !== false));
              return t().sweepResult({ summary: parts.map(([name, value]) => `${name} ${value}`).join(', ') });
            }),
        },
        text('runSweep'),
      ),
    ),
    messageLine('sweep'),
    h('div', { class: 'grid' }, lifetimes, fail, behaviour),
  );
}

function focusFirst(selector: string): void {
  (document.querySelector(selector) as HTMLElement | null)?.focus();
}

// ---- start ----

function readResult(): void {
  const params = new URLSearchParams(location.search);
  const tenant = params.get('tenant');
  if (tenant && TENANT_ID.test(tenant) && tenant !== state.tenantId) selectTenant(tenant);
  const status = params.get('status');
  const tokenId = params.get('tokenId');
  const reason = params.get('reason');
  if (status === 'connected' && tokenId) state.result = { kind: 'connected', tokenId };
  else if (status === 'error' && reason) state.result = { kind: 'error', reason };
  // A reload must not announce the same result again.
  if (location.search) history.replaceState(null, '', location.pathname);
}

let lastSeen = '';
const fingerprint = () => JSON.stringify([state.client, state.companies, state.tokens, state.events, state.emulator]);

async function start(): Promise<void> {
  readResult();
  render();
  await reload();
  lastSeen = fingerprint();
  state.loaded = true;
  render();
  if (state.result) focusFirst('#result');
  setInterval(() => {
    if (!state.autoRefresh || document.visibilityState !== 'visible') return;
    void reload().then(() => {
      const now = fingerprint();
      if (now === lastSeen) return;
      lastSeen = now;
      render();
    });
  }, POLL_MS);
}

void start();
