// Headless Chromium (the machine's, driven by playwright-core) opens a page on another origin than the
// gateway's; the page uploads with fetch() and reports what it could read. Usage: node browser_upload.js <url>
const { chromium } = require('playwright-core');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // The machine's network is closed: no background connections, no sandbox as root.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(m.text()));
    await page.goto(process.argv[2]);
    await page.waitForFunction(() => window.results !== undefined, null, { timeout: 120000 });
    const results = await page.evaluate(() => window.results);
    process.stdout.write(JSON.stringify({ results, logs }));
  } finally {
    await browser.close();
  }
})().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
