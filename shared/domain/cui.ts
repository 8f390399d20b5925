/**
 * Romanian CUI/CIF handling. A CUI is 2–10 digits whose last digit is a control digit computed with
 * the key 753217532 over the preceding digits, left-padded to 9: (Σ digit×weight × 10) mod 11, 10 → 0.
 */
const KEY = [7, 5, 3, 2, 1, 7, 5, 3, 2];

/**
 * Strips an optional `RO`/`ro` prefix, spaces and leading zeros; returns the digits or null when not a
 * valid CUI. Leading zeros are not part of a CUI: `014399840` and `14399840` are one legal entity (and
 * would otherwise pass the checksum as two companies); an all-zero value is no CUI at all.
 */
export function normalizeCui(input: string): string | null {
  const compact = input.replace(/\s+/g, '').replace(/^ro/i, '');
  if (!/^\d{1,16}$/.test(compact)) return null;
  const digits = compact.replace(/^0+/, '');
  if (!/^\d{2,10}$/.test(digits)) return null;
  return isValidCuiDigits(digits) ? digits : null;
}

/** True when `digits` (digits only, 2–10 long) carries a correct control digit. */
export function isValidCuiDigits(digits: string): boolean {
  if (!/^\d{2,10}$/.test(digits)) return false;
  const body = digits.slice(0, -1).padStart(9, '0');
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(body[i]) * KEY[i]!;
  const control = ((sum * 10) % 11) % 10;
  return control === Number(digits[digits.length - 1]);
}

/** Appends the control digit to a CUI body (used to build valid test and emulator data). */
export function withControlDigit(body: string): string {
  const padded = body.padStart(9, '0');
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(padded[i]) * KEY[i]!;
  return `${body}${((sum * 10) % 11) % 10}`;
}
