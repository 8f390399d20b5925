import { describe, expect, it } from 'vitest';
import { chooseBrowser, NO_BROWSER_MESSAGE, type BrowserSources } from '../../support/browser.js';

function sources(over: Partial<BrowserSources> & { path?: Record<string, string> }): BrowserSources {
  return {
    env: over.env ?? {},
    onPath: over.onPath ?? ((name) => over.path?.[name]),
    npmChromium: over.npmChromium ?? (async () => undefined),
  };
}

describe('chooseBrowser: CHROMIUM_PATH, then PATH, then @sparticuz/chromium', () => {
  it('takes CHROMIUM_PATH first when it is executable', async () => {
    const choice = await chooseBrowser(
      sources({ env: { CHROMIUM_PATH: process.execPath }, path: { chromium: '/usr/bin/chromium' }, npmChromium: async () => '/tmp/c' }),
    );
    expect(choice).toMatchObject({ executablePath: process.execPath, source: 'CHROMIUM_PATH' });
  });

  it('refuses a CHROMIUM_PATH that is not executable instead of silently falling back', async () => {
    await expect(chooseBrowser(sources({ env: { CHROMIUM_PATH: '/nonexistent/chrome' }, path: { chromium: '/usr/bin/chromium' } }))).rejects.toThrow(
      /CHROMIUM_PATH=\/nonexistent\/chrome is not an executable/,
    );
  });

  it.each([
    [{ chromium: '/a/chromium', 'chromium-browser': '/b', 'google-chrome': '/c' }, '/a/chromium', 'PATH:chromium'],
    [{ 'chromium-browser': '/b/chromium-browser', 'google-chrome': '/c' }, '/b/chromium-browser', 'PATH:chromium-browser'],
    [{ 'google-chrome': '/c/google-chrome' }, '/c/google-chrome', 'PATH:google-chrome'],
  ])('looks on PATH in order (%j)', async (path, executablePath, source) => {
    const choice = await chooseBrowser(sources({ path, npmChromium: async () => '/tmp/chromium' }));
    expect(choice).toMatchObject({ executablePath, source });
  });

  it('falls back to the binary shipped in the npm package', async () => {
    const choice = await chooseBrowser(sources({ npmChromium: async () => '/tmp/chromium' }));
    expect(choice).toMatchObject({ executablePath: '/tmp/chromium', source: '@sparticuz/chromium' });
    expect(choice.args).toContain('--no-sandbox');
  });

  it('fails (never skips) with a message naming the three ways when there is no browser at all', async () => {
    await expect(chooseBrowser(sources({}))).rejects.toThrow(NO_BROWSER_MESSAGE);
    expect(NO_BROWSER_MESSAGE).toMatch(/CHROMIUM_PATH/);
    expect(NO_BROWSER_MESSAGE).toMatch(/chromium \/ chromium-browser \/ google-chrome/);
    expect(NO_BROWSER_MESSAGE).toMatch(/@sparticuz\/chromium/);
  });
});

describe('the machine has a browser by one of the three ways after npm ci', () => {
  it('finds and names one', async () => {
    const { chooseBrowser: choose, machineBrowserSources } = await import('../../support/browser.js');
    const choice = await choose(machineBrowserSources);
    expect(choice.executablePath).not.toBe('');
  });
});
