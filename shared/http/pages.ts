import type { FlowFailure, FlowOutcome } from '../services/authorization.js';
import { withResultParams } from '../domain/urls.js';
import { html, redirect, type HttpResult } from './responses.js';

interface PageText {
  title: string;
  body: string;
}

/** What the person is told, Romanian first (the pages are for Romanian accountants), then English. */
const FAILURE_TEXT: Record<FlowFailure, { status: number; ro: PageText; en: PageText }> = {
  ACCESS_DENIED: {
    status: 400,
    ro: {
      title: 'Autentificarea nu s-a realizat',
      body: 'ANAF nu a primit niciun certificat: tokenul USB nu era conectat, PIN-ul nu a fost introdus sau autentificarea a fost anulată. Conectați tokenul USB și deschideți din nou același link.',
    },
    en: {
      title: 'The sign-in did not complete',
      body: 'ANAF received no certificate: the USB token was not connected, the PIN was not entered, or the sign-in was cancelled. Connect the USB token and open the same link again.',
    },
  },
  ANAF_REJECTED: {
    status: 502,
    ro: {
      title: 'ANAF a refuzat conectarea',
      body: 'ANAF a respins datele aplicației (client id / client secret) sau codul de autorizare. Administratorul ERP-ului trebuie să verifice datele aplicației înregistrate la ANAF; apoi deschideți din nou linkul.',
    },
    en: {
      title: 'ANAF refused the connection',
      body: "ANAF rejected the application's client id / secret or the authorization code. The ERP administrator should check the application's credentials registered at ANAF; then open the link again.",
    },
  },
  ANAF_UNAVAILABLE: {
    status: 503,
    ro: {
      title: 'ANAF nu răspunde',
      body: 'Serverul ANAF nu a răspuns la timp sau conexiunea tocmai era reînnoită. Nu s-a salvat nimic. Încercați din nou peste câteva minute, cu același link.',
    },
    en: {
      title: 'ANAF is not answering',
      body: "ANAF's server did not answer in time, or the connection was being renewed at that moment. Nothing was saved. Try again in a few minutes with the same link.",
    },
  },
  SESSION_EXPIRED: {
    status: 400,
    ro: {
      title: 'Linkul a expirat',
      body: 'Acest link de conectare a expirat sau a fost deja folosit cu succes. Cereți un link nou din ERP.',
    },
    en: { title: 'The link has expired', body: 'This connect link has expired or was already used successfully. Ask the ERP for a new link.' },
  },
  INVALID_STATE: {
    status: 400,
    ro: {
      title: 'Cerere nevalidă',
      body: 'Răspunsul de la ANAF nu corespunde unei cereri în curs: pagina a fost reîncărcată, cererea este mai veche de 10 minute sau a fost deja folosită. Deschideți din nou linkul de conectare.',
    },
    en: {
      title: 'Invalid request',
      body: "ANAF's answer does not match a pending request: the page was reloaded, the request is older than 10 minutes, or it was already used. Open the connect link again.",
    },
  },
  INVALID_SESSION: {
    status: 400,
    ro: { title: 'Link nevalid', body: 'Acest link de conectare nu este valid. Cereți un link nou din ERP.' },
    en: { title: 'Invalid link', body: 'This connect link is not valid. Ask the ERP for a new link.' },
  },
};

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(status: number, ro: PageText, en: PageText, extra: { ro?: string; en?: string } = {}): HttpResult {
  return html(
    status,
    `<!doctype html>
<html lang="ro"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(ro.title)} · e-Factura</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}
h1{font-size:1.4rem}section+section{margin-top:2rem;border-top:1px solid #ddd;padding-top:1rem}small{color:#666}</style></head>
<body><main>
<section lang="ro" id="ro"><h1>${escape(ro.title)}</h1><p>${escape(ro.body)}</p>${extra.ro ?? ''}<p><small><a href="#en">English below</a></small></p></section>
<section lang="en" id="en"><h1>${escape(en.title)}</h1><p>${escape(en.body)}</p>${extra.en ?? ''}</section>
</main></body></html>`,
  );
}

/** Turns a browser-flow outcome into a redirect to the ERP (when it gave a returnUrl) or a result page. */
export function renderFlowOutcome(outcome: FlowOutcome): HttpResult {
  if (outcome.kind === 'redirect-to-anaf') return redirect(outcome.location);
  if (outcome.kind === 'connected') {
    if (outcome.returnUrl) return redirect(withResultParams(outcome.returnUrl, { status: 'connected', tokenId: outcome.tokenId }));
    const list = `<ul id="cuis">${outcome.cuis.map((c) => `<li>CUI ${escape(c)}</li>`).join('')}</ul>`;
    return page(
      200,
      {
        title: 'Conectare reușită',
        body: 'Firmele de mai jos sunt acum conectate la e-Factura. ERP-ul va reînnoi automat accesul; puteți închide această pagină.',
      },
      {
        title: 'Connected',
        body: 'The companies below are now connected to e-Factura. The ERP will renew access automatically; you can close this page.',
      },
      { ro: list, en: list },
    );
  }
  if (outcome.returnUrl && outcome.reason !== 'INVALID_STATE' && outcome.reason !== 'INVALID_SESSION') {
    return redirect(withResultParams(outcome.returnUrl, { status: 'error', reason: outcome.reason }));
  }
  const text = FAILURE_TEXT[outcome.reason];
  return page(text.status, text.ro, text.en, {
    ro: `<p><small>Cod: ${outcome.reason}</small></p>`,
    en: `<p><small>Code: ${outcome.reason}</small></p>`,
  });
}
