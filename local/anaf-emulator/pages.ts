/** HTML pages of the emulated logincert.anaf.ro: the certificate + PIN page and the error page. */
import type { EmulatorCertificate } from './types.js';

/** The authorize parameters carried through the interactive page in hidden fields. */
export interface AuthorizeParams {
  response_type: string;
  client_id: string;
  redirect_uri: string;
  token_content_type: string;
  state?: string;
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `body{font-family:Arial,Helvetica,sans-serif;background:#f3f4f6;margin:0}
header{background:#003366;color:#fff;padding:12px 24px}
.banner{background:#fde68a;color:#78350f;padding:6px 24px;font-size:13px}
main{max-width:520px;margin:32px auto;background:#fff;padding:24px;border:1px solid #d1d5db}
label{display:block;margin:16px 0 4px;font-weight:bold}
select,input{width:100%;padding:6px;box-sizing:border-box}
.buttons{margin-top:24px;display:flex;gap:12px}
button{padding:8px 16px}
#error{color:#b91c1c}`;

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="ro">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
<header>ANAF &mdash; Autentificare cu certificat digital</header>
<div class="banner">EMULATOR LOCAL: aceasta nu este pagina ANAF. Certificatele de mai jos sunt fictive.</div>
<main>
${body}
</main>
</body>
</html>
`;
}

/** The page a person sees instead of the USB token prompt: pick a certificate, type any PIN. */
export function loginPage(input: {
  params: AuthorizeParams;
  certificates: EmulatorCertificate[];
  selectedSerial: string;
  confirmAction: string;
  error?: string;
}): string {
  const hidden = (Object.entries(input.params) as [string, string | undefined][])
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join('\n');
  const options = input.certificates
    .map(
      (cert) =>
        `<option value="${escapeHtml(cert.serial)}"${cert.serial === input.selectedSerial ? ' selected' : ''}>` +
        `${escapeHtml(cert.holder)} (serie ${escapeHtml(cert.serial)})</option>`,
    )
    .join('\n');
  const error = input.error ? `<p id="error" role="alert">${escapeHtml(input.error)}</p>` : '';
  return layout(
    'Autentificare certificat - ANAF',
    `<h1>Autentificare</h1>
<p>Aplicația <strong>${escapeHtml(input.params.client_id)}</strong> solicită acces la serviciul E-Factura în numele dumneavoastră.</p>
${error}
<form id="login-form" method="post" action="${escapeHtml(input.confirmAction)}">
${hidden}
<label for="certificate">Selectați certificatul digital</label>
<select id="certificate" name="certificate">
${options}
</select>
<label for="pin">PIN token</label>
<input type="password" id="pin" name="pin" autocomplete="off">
<div class="buttons">
<button type="submit" id="approve" name="action" value="approve">Autentificare</button>
<button type="submit" id="cancel" name="action" value="cancel">Renunță (fără certificat)</button>
</div>
</form>`,
  );
}

/** What the browser shows when the authorize request itself is wrong (ANAF does not redirect then). */
export function errorPage(message: string): string {
  return layout(
    'Eroare - ANAF',
    `<h1>Eroare</h1>
<p id="error" role="alert">${escapeHtml(message)}</p>`,
  );
}
