import type { FlowContext, FlowFailure, FlowOutcome } from '../services/authorization.js';
import { HTTP_STATUS, type BrokerError } from '../domain/errors.js';
import { withResultParams } from '../domain/urls.js';
import { html, redirect, type HttpResult } from './responses.js';

/*
 * The pages a person sees after the ANAF login: Romanian first (they are for Romanian accountants),
 * English below. Each says what happened, for which companies and at whose request, and what to do
 * next. Text is escaped where it is put into the page; nothing else is dynamic.
 */

type Lang = 'ro' | 'en';

/** One language's part of a page. Strings are plain text; `list` and `action` are built here. */
interface Part {
  title: string;
  /** Paragraphs before the company list. */
  lead: string[];
  /** The heading-less list of the session's companies, when there are any to show. */
  list?: string;
  /** What to do next: every page has one. */
  next: string;
  /** A link that does the next step (the session's link, opened again). */
  action?: { href: string; label: string };
  code?: string;
}

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const TIME_FORMAT: Record<Lang, Intl.DateTimeFormat> = {
  ro: new Intl.DateTimeFormat('ro-RO', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Bucharest' }),
  en: new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Bucharest' }),
};

/** A time as a person in Romania reads it. */
export function formatTime(iso: string, lang: Lang): string {
  return `${TIME_FORMAT[lang].format(new Date(iso))} (${lang === 'ro' ? 'ora României' : 'Romanian time'})`;
}

/**
 * "N companies" in Romanian: 1 → "firma" (the caller words the singular), 2–19 → "N firme", 20 and up
 * (unless the number ends in 01–19) → "N de firme".
 */
export function romanianCount(n: number, one: string, many: string): string {
  if (n === 1) return one;
  const rest = n % 100;
  return rest >= 1 && rest <= 19 ? `${n} ${many}` : `${n} de ${many}`;
}

function companiesList(context: FlowContext | undefined): string | undefined {
  if (!context || context.companies.length === 0) return undefined;
  const items = context.companies.map((c) => `<li>${c.name ? `<span class="name">${escape(c.name)}</span> — ` : ''}<span class="cui">CUI ${escape(c.cui)}</span></li>`);
  return `<ul class="companies">${items.join('')}</ul>`;
}

/** "Who asked", when the tenant has a display name. */
function requesterLine(context: FlowContext | undefined, lang: Lang): string[] {
  const name = context?.requester;
  if (!name) return [];
  return [lang === 'ro' ? `Cererea de conectare la e-Factura a venit de la ${name}.` : `${name} asked for this connection to e-Factura.`];
}

const from = (context: FlowContext | undefined, lang: Lang) => context?.requester ?? (lang === 'ro' ? 'ERP' : 'the ERP');

/** The sentence before the list of the companies a success connected. */
function connectedLead(n: number, lang: Lang): string {
  if (lang === 'ro') {
    if (n === 0) return 'Conectarea la e-Factura (SPV ANAF) a reușit.';
    return n === 1
      ? 'Firma de mai jos este acum conectată la e-Factura (SPV ANAF).'
      : `Cele ${romanianCount(n, 'firma', 'firme')} de mai jos sunt acum conectate la e-Factura (SPV ANAF).`;
  }
  if (n === 0) return 'The connection to e-Factura (ANAF SPV) succeeded.';
  return n === 1 ? 'The company below is now connected to e-Factura (ANAF SPV).' : `The ${n} companies below are now connected to e-Factura (ANAF SPV).`;
}

/** A token-bound link completed with another certificate while the token waited for a person (e.g. a renewed certificate). */
function replacedLine(n: number, lang: Lang): string {
  if (lang === 'ro') {
    return `De acum, ${n === 1 ? 'firma folosește' : 'firmele folosesc'} certificatul cu care v-ați autentificat (de exemplu, certificatul reînnoit), în locul celui de până acum.`;
  }
  return `${n === 1 ? 'The company now uses' : 'The companies now use'} the certificate you signed in with (for example, the renewed certificate) instead of the one used so far.`;
}

function connectedPart(context: FlowContext, lang: Lang, replaced: boolean): Part {
  const n = context.companies.length;
  const lead = [...requesterLine(context, lang), connectedLead(n, lang), ...(replaced ? [replacedLine(n, lang)] : [])];
  return lang === 'ro'
    ? {
        title: 'Conectare reușită',
        lead,
        list: companiesList(context),
        next: 'Nu mai aveți nimic de făcut: accesul se reînnoiește automat. Puteți închide această pagină.',
      }
    : {
        title: 'Connected',
        lead,
        list: companiesList(context),
        next: 'Nothing left to do: access is renewed automatically. You can close this page.',
      };
}

/** A link minted for one certificate holder, completed with another certificate: nothing of the holder's moved. */
function otherCertificatePart(context: FlowContext, lang: Lang): Part {
  return lang === 'ro'
    ? {
        title: 'A fost folosit alt certificat',
        lead: [
          ...requesterLine(context, lang),
          'Acest link reînnoiește accesul titularului unui anumit certificat, iar autentificarea la ANAF s-a făcut cu alt certificat.',
          'Accesul certificatului folosit a fost salvat separat; nicio firmă nu a fost mutată pe el.',
        ],
        next: `Dacă firmele trebuie conectate cu acest certificat, cereți un link nou de la ${from(context, lang)}. Altfel, trimiteți linkul titularului certificatului.`,
      }
    : {
        title: 'Another certificate was used',
        lead: [
          ...requesterLine(context, lang),
          "This link renews the access of one certificate's holder, and the ANAF sign-in used another certificate.",
          "The access of the certificate used was saved separately; no company was moved to it.",
        ],
        next: `If the companies should be connected with this certificate, ask ${from(context, lang)} for a new link. Otherwise, send the link to the certificate's holder.`,
      };
}

function alreadyConnectedPart(outcome: Extract<FlowOutcome, { kind: 'already-connected' }>, lang: Lang): Part {
  const { context } = outcome;
  const when = formatTime(outcome.completedAt, lang);
  const n = context.companies.length;
  if (lang === 'ro') {
    const listed = n === 0 ? [] : [n === 1 ? 'Firma conectată:' : `Cele ${romanianCount(n, 'firma', 'firme')} conectate:`];
    return outcome.via === 'callback'
      ? {
          title: 'Conectarea este deja făcută',
          lead: [...requesterLine(context, lang), `Conectarea a reușit pe ${when}. Pagina a fost deschisă din nou (reîncărcare sau butonul Înapoi) și nu a schimbat nimic.`, ...listed],
          list: companiesList(context),
          next: 'Nu mai aveți nimic de făcut. Puteți închide această pagină.',
        }
      : {
          title: 'Linkul a fost deja folosit',
          lead: [...requesterLine(context, lang), `Conectarea prin acest link a reușit pe ${when}. Un link de conectare se folosește o singură dată.`, ...listed],
          list: companiesList(context),
          next: `Nu mai aveți nimic de făcut. Dacă vi se cere din nou conectarea, cereți un link nou de la ${from(context, lang)}.`,
        };
  }
  const listed = n === 0 ? [] : [n === 1 ? 'Connected company:' : `The ${n} connected companies:`];
  return outcome.via === 'callback'
    ? {
        title: 'Already connected',
        lead: [...requesterLine(context, lang), `The connection succeeded on ${when}. This page was opened again (a reload or the Back button) and changed nothing.`, ...listed],
        list: companiesList(context),
        next: 'Nothing left to do. You can close this page.',
      }
    : {
        title: 'This link was already used',
        lead: [...requesterLine(context, lang), `The connection through this link succeeded on ${when}. A connect link works once.`, ...listed],
        list: companiesList(context),
        next: `Nothing left to do. If you are asked to connect again, ask ${from(context, lang)} for a new link.`,
      };
}

/** HTTP status of each failure page (without a returnUrl). */
const FAILURE_STATUS: Record<FlowFailure, number> = {
  ACCESS_DENIED: 400,
  ANAF_REJECTED: 502,
  ANAF_UNAVAILABLE: 503,
  SESSION_EXPIRED: 400,
  INVALID_STATE: 400,
  INVALID_SESSION: 400,
};

type Failed = Extract<FlowOutcome, { kind: 'failed' }>;

/** What the person is told on each failure: what happened, then what to do. */
function failureText(outcome: Failed, lang: Lang): { title: string; body: string; next: string } {
  const ctx = outcome.context;
  const ro = lang === 'ro';
  switch (outcome.reason) {
    case 'ACCESS_DENIED':
      return ro
        ? {
            title: 'Autentificarea nu s-a realizat',
            body: 'ANAF nu a primit niciun certificat: tokenul USB nu era conectat, PIN-ul nu a fost introdus sau autentificarea a fost anulată. Nu s-a salvat nimic.',
            next: 'Conectați tokenul USB și deschideți din nou același link.',
          }
        : {
            title: 'The sign-in did not complete',
            body: 'ANAF received no certificate: the USB token was not connected, the PIN was not entered, or the sign-in was cancelled. Nothing was saved.',
            next: 'Connect the USB token and open the same link again.',
          };
    case 'ANAF_REJECTED':
      return ro
        ? {
            title: 'ANAF a refuzat conectarea',
            body: 'ANAF a respins datele aplicației (client id / client secret) sau codul de autorizare. Nu s-a salvat nimic.',
            next: `Anunțați administratorul ERP-ului${ctx?.requester ? ` (${ctx.requester})` : ''}: trebuie să verifice datele aplicației înregistrate la ANAF. Apoi deschideți din nou linkul.`,
          }
        : {
            title: 'ANAF refused the connection',
            body: "ANAF rejected the application's client id / secret or the authorization code. Nothing was saved.",
            next: `Tell the administrator of ${from(ctx, lang)}: the application's credentials registered at ANAF need checking. Then open the link again.`,
          };
    case 'ANAF_UNAVAILABLE':
      return ro
        ? {
            title: 'ANAF nu răspunde',
            body: 'Serverul ANAF nu a răspuns la timp sau conexiunea tocmai era reînnoită. Nu s-a salvat nimic.',
            next: 'Încercați din nou peste câteva minute, cu același link.',
          }
        : {
            title: 'ANAF is not answering',
            body: "ANAF's server did not answer in time, or the connection was being renewed at that moment. Nothing was saved.",
            next: 'Try again in a few minutes with the same link.',
          };
    case 'SESSION_EXPIRED': {
      const when = ctx ? formatTime(ctx.expiresAt, lang) : null;
      return ro
        ? {
            title: 'Linkul a expirat',
            body: when ? `Acest link de conectare era valabil până pe ${when}.` : 'Acest link de conectare a expirat.',
            next: `Cereți un link nou de la ${from(ctx, lang)}.`,
          }
        : {
            title: 'The link has expired',
            body: when ? `This connect link was valid until ${when}.` : 'This connect link has expired.',
            next: `Ask ${from(ctx, lang)} for a new link.`,
          };
    }
    case 'INVALID_STATE':
      return ro
        ? {
            title: 'Cerere nevalidă',
            body: 'Răspunsul de la ANAF nu corespunde unei cereri în curs: pagina a fost reîncărcată, cererea este mai veche de 10 minute sau a fost deja folosită. Nu s-a salvat nimic.',
            next: outcome.retryUrl ? 'Deschideți din nou linkul de conectare cu butonul de mai jos.' : 'Deschideți din nou linkul de conectare primit (din e-mail sau din ERP).',
          }
        : {
            title: 'Invalid request',
            body: "ANAF's answer does not match a pending request: the page was reloaded, the request is older than 10 minutes, or it was already used. Nothing was saved.",
            next: outcome.retryUrl ? 'Open the connect link again with the button below.' : 'Open the connect link you received (by e-mail or in the ERP) again.',
          };
    case 'INVALID_SESSION':
      return ro
        ? {
            title: 'Link nevalid',
            body: 'Acest link de conectare nu este valid: este incomplet, greșit copiat sau nu a fost emis de ERP.',
            next: 'Verificați că ați copiat linkul întreg sau cereți un link nou din ERP.',
          }
        : {
            title: 'Invalid link',
            body: 'This connect link is not valid: it is incomplete, mis-copied, or was not issued by the ERP.',
            next: 'Check that you copied the whole link, or ask the ERP for a new one.',
          };
  }
}

function failurePart(outcome: Failed, lang: Lang): Part {
  const text = failureText(outcome, lang);
  return {
    title: text.title,
    lead: [...requesterLine(outcome.context, lang), text.body],
    list: companiesList(outcome.context),
    next: text.next,
    ...(outcome.retryUrl ? { action: { href: outcome.retryUrl, label: lang === 'ro' ? 'Deschideți din nou linkul' : 'Open the link again' } } : {}),
    code: outcome.reason,
  };
}

function section(lang: Lang, part: Part): string {
  const ro = lang === 'ro';
  return [
    `<section lang="${lang}" id="${lang}" aria-labelledby="${lang}-title">`,
    `<h1 id="${lang}-title">${escape(part.title)}</h1>`,
    ...part.lead.map((p) => `<p>${escape(p)}</p>`),
    part.list ?? '',
    `<p class="next"><strong>${ro ? 'Ce urmează' : 'What next'}:</strong> ${escape(part.next)}</p>`,
    part.action ? `<p><a class="action" href="${escape(part.action.href)}">${escape(part.action.label)}</a></p>` : '',
    part.code ? `<p><small>${ro ? 'Cod' : 'Code'}: ${escape(part.code)}</small></p>` : '',
    ro ? '<p><small><a href="#en">English below</a></small></p>' : '',
    '</section>',
  ].join('');
}

function page(status: number, ro: Part, en: Part): HttpResult {
  return html(
    status,
    `<!doctype html>
<html lang="ro"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(ro.title)} · e-Factura</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}
h1{font-size:1.4rem}section+section{margin-top:2rem;border-top:1px solid #ddd;padding-top:1rem}small{color:#666}
.companies{padding-left:1.2rem}.name{font-weight:600}.next{background:#f3f6fa;border-left:4px solid #2b5797;padding:.5rem .75rem}
.action{display:inline-block;background:#2b5797;color:#fff;padding:.5rem 1rem;border-radius:4px;text-decoration:none}
.action:focus{outline:3px solid #f0a000;outline-offset:2px}</style></head>
<body><main>
${section('ro', ro)}
${section('en', en)}
</main></body></html>`,
  );
}

/** Turns a browser-flow outcome into a redirect to the ERP (when it gave a returnUrl) or a result page. */
export function renderFlowOutcome(outcome: FlowOutcome): HttpResult {
  switch (outcome.kind) {
    case 'redirect-to-anaf':
      return redirect(outcome.location);
    case 'connected': {
      const replaced = outcome.replacedTokenId !== undefined;
      if (outcome.returnUrl) {
        const params = { status: 'connected', tokenId: outcome.tokenId, ...(replaced ? { replacedTokenId: outcome.replacedTokenId! } : {}) };
        return redirect(withResultParams(outcome.returnUrl, params));
      }
      return page(200, connectedPart(outcome.context, 'ro', replaced), connectedPart(outcome.context, 'en', replaced));
    }
    case 'other-certificate':
      return page(409, otherCertificatePart(outcome.context, 'ro'), otherCertificatePart(outcome.context, 'en'));
    case 'already-connected':
      // A used link sends the ERP the result it already had; a replayed callback never redirects.
      if (outcome.via === 'link' && outcome.returnUrl && outcome.tokenId) {
        return redirect(withResultParams(outcome.returnUrl, { status: 'connected', tokenId: outcome.tokenId }));
      }
      return page(200, alreadyConnectedPart(outcome, 'ro'), alreadyConnectedPart(outcome, 'en'));
    case 'failed':
      if (outcome.returnUrl && outcome.reason !== 'INVALID_STATE' && outcome.reason !== 'INVALID_SESSION') {
        return redirect(withResultParams(outcome.returnUrl, { status: 'error', reason: outcome.reason }));
      }
      return page(FAILURE_STATUS[outcome.reason], failurePart(outcome, 'ro'), failurePart(outcome, 'en'));
  }
}

/** What a person is told when a page route failed outside the flow's own outcomes. */
function errorPageText(code: string, lang: Lang): Part {
  const ro = lang === 'ro';
  if (code === 'STORE_UNAVAILABLE') {
    return ro
      ? {
          title: 'Serviciul nu a răspuns',
          lead: ['Conectarea nu a putut fi confirmată: serviciul care o păstrează nu a răspuns la timp.'],
          next: 'Deschideți din nou același link peste un minut. Dacă ERP-ul arată deja firma conectată, nu mai este nimic de făcut.',
          code,
        }
      : {
          title: 'The service did not answer',
          lead: ['The connection could not be confirmed: the service that keeps it did not answer in time.'],
          next: 'Open the same link again in a minute. If the ERP already shows the company as connected, there is nothing left to do.',
          code,
        };
  }
  return ro
    ? {
        title: 'A apărut o eroare neașteptată',
        lead: ['Cererea nu a putut fi încheiată.'],
        next: 'Deschideți din nou același link peste câteva minute. Dacă eroarea se repetă, anunțați administratorul ERP-ului.',
        code,
      }
    : {
        title: 'An unexpected error occurred',
        lead: ['The request could not be completed.'],
        next: 'Open the same link again in a few minutes. If the error comes back, tell the administrator of the ERP.',
        code,
      };
}

/**
 * The page a person's browser gets when a page route (authorize, callback) failed with an error the
 * flow did not turn into an outcome: a store that did not answer (503, with Retry-After), else an
 * unexpected error (`null`: 500). Romanian first, English below, like every page; never JSON, never a
 * redirect (the ERP's result reasons are the flow's own).
 */
export function renderErrorPage(error: BrokerError | null): HttpResult {
  const code = error?.code ?? 'INTERNAL_ERROR';
  const result = page(HTTP_STATUS[code], errorPageText(code, 'ro'), errorPageText(code, 'en'));
  if (error?.retryAfterSeconds !== undefined) result.headers = { ...result.headers, 'retry-after': String(error.retryAfterSeconds) };
  return result;
}
