import { describe, expect, it } from 'vitest';
import { isValidCuiDigits, normalizeCui, withControlDigit } from '../../../shared/domain/cui.js';

describe('normalizeCui', () => {
  it.each([
    ['14399840', '14399840'],
    ['RO14399840', '14399840'],
    ['ro14399840', '14399840'],
    ['RO 1439 9840', '14399840'],
    [' 18547290 ', '18547290'],
    ['4221306', '4221306'],
    ['19', '19'],
    // leading zeros are not part of a CUI: one legal entity, one company
    ['014399840', '14399840'],
    ['RO 0014399840', '14399840'],
  ])('accepts %j as %s', (input, expected) => {
    expect(normalizeCui(input)).toBe(expected);
  });

  it.each([
    ['14399841', 'wrong control digit'],
    ['1', 'too short'],
    ['12345678901', 'too long'],
    ['RO', 'prefix only'],
    ['DE14399840', 'foreign prefix'],
    ['1439-9840', 'punctuation'],
    ['abc', 'letters'],
    ['', 'empty'],
    ['RORO14399840', 'double prefix'],
    ['00', 'all zeros (passes the checksum)'],
    ['0000000000', 'all zeros, ten digits'],
    ['01', 'one digit after the zeros'],
  ])('rejects %j (%s)', (input) => {
    expect(normalizeCui(input)).toBeNull();
  });
});

describe('control digit', () => {
  it('computes (Σ digit×weight × 10) mod 11 with 10 → 0 over the left-padded body', () => {
    expect(withControlDigit('1439984')).toBe('14399840');
    expect(withControlDigit('1854729')).toBe('18547290');
  });

  it('maps a remainder of 10 to 0', () => {
    // Find a body whose weighted sum gives remainder 10 and check the digit is 0.
    let body = '';
    for (let i = 10; i < 100_000; i++) {
      const b = String(i).padStart(9, '0');
      const key = [7, 5, 3, 2, 1, 7, 5, 3, 2];
      const sum = [...b].reduce((s, d, j) => s + Number(d) * key[j]!, 0);
      if ((sum * 10) % 11 === 10) {
        body = String(i);
        break;
      }
    }
    expect(body).not.toBe('');
    expect(withControlDigit(body).endsWith('0')).toBe(true);
    expect(isValidCuiDigits(withControlDigit(body))).toBe(true);
  });

  it('every generated CUI validates and every other last digit fails', () => {
    for (const body of ['1', '12', '123456789', '999999999', '4221306'.slice(0, -1)]) {
      const cui = withControlDigit(body);
      expect(isValidCuiDigits(cui)).toBe(true);
      for (let d = 0; d <= 9; d++) {
        const other = `${body}${d}`;
        if (other !== cui) expect(isValidCuiDigits(other)).toBe(false);
      }
    }
  });
});
