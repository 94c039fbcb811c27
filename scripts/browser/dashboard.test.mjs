// End-to-end test of the tenure dashboard in headless Chromium (run by scripts/browser_test.sh).
// Signs in with a read key, visits every page, checks each renders its SVG charts, compares the
// numbers shown with the API's JSON, switches to Chinese, and saves screenshots.
//
// Environment: TENURE_URL (server base URL), TENURE_KEY (read key), EXPECT_REVENUE (net revenue up
// to the scoring day, computed by SQL before the server started), SCREENSHOTS (output folder).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const base = process.env.TENURE_URL;
const key = process.env.TENURE_KEY;
const shots = process.env.SCREENSHOTS;
assert.ok(base && key && shots, 'set TENURE_URL, TENURE_KEY and SCREENSHOTS (scripts/browser_test.sh does)');

const api = async (path) => {
  const r = await fetch(base + path, { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
};
/** The dashboard's number format: thousands separators, fixed decimals. */
const fmt = (v, d) => {
  const s = Math.abs(v).toFixed(d);
  const [i, f] = s.split('.');
  const int = i.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const neg = v < 0 && /[1-9]/.test(s) ? '-' : '';
  return neg + int + (f ? '.' + f : '');
};

const profile = mkdtempSync(join(tmpdir(), 'tenure-chromium-'));
// A fresh profile: Playwright passes it as --user-data-dir.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  locale: 'en-US',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let failures = 0;
const checks = [];
const check = async (name, fn) => {
  try {
    await fn();
    checks.push(`ok   ${name}`);
  } catch (e) {
    failures += 1;
    checks.push(`FAIL ${name}: ${e.message}`);
  }
};

try {
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const svgs = (sel = 'main svg') => page.locator(sel).count();
  const visit = async (path, minCharts) => {
    const r = await page.goto(base + path);
    assert.equal(r.status(), 200, `${path}: HTTP ${r.status()}`);
    const n = await svgs();
    assert.ok(n >= minCharts, `${path}: ${n} charts, want at least ${minCharts}`);
    // Every chart drew something: a bar, a line or a cell.
    for (const svg of await page.locator('main svg').all()) {
      const marks = await svg.locator('rect, polyline, circle').count();
      assert.ok(marks > 0, `${path}: an empty chart`);
    }
  };

  await check('unauthenticated pages redirect to the login form', async () => {
    await page.goto(base + '/ui/rfm');
    assert.match(page.url(), /\/ui\/login\?/);
    await shot('login');
  });

  await check('login with a wrong key is refused', async () => {
    await page.fill('#key', 'tnr_wrong');
    await page.click('form.login button');
    assert.equal(await page.locator('#login-error').count(), 1);
  });
  problems.length = 0; // the refused login answered 401 on purpose

  await check('login with the read key lands on the page asked for', async () => {
    await page.goto(base + '/ui/login?next=%2Fui');
    await page.fill('#key', key);
    await Promise.all([page.waitForURL(/\/ui$/), page.click('form.login button')]);
    const cookies = await context.cookies();
    const c = cookies.find((c) => c.name === 'tenure_key');
    assert.ok(c && c.httpOnly && c.sameSite === 'Strict', JSON.stringify(cookies));
  });

  const segments = await api('/v1/segments');
  const groupTotal = segments.rfm.reduce((a, g) => a + (g.customers ?? 0), 0);

  await check('overview: charts, customer count and revenue match', async () => {
    await visit('/ui', 2);
    const customers = await page.locator('[data-testid=customers]').innerText();
    assert.equal(customers, fmt(groupTotal, 0));
    assert.equal(customers, fmt(segments.run.customers, 0));
    const clv = segments.rfm.reduce((a, g) => a + (g.clv ?? 0), 0);
    assert.equal(await page.locator('[data-testid=clv-total]').innerText(), fmt(clv, 2));
    const revenue = Number(process.env.EXPECT_REVENUE);
    assert.ok(Number.isFinite(revenue) && revenue > 0, `EXPECT_REVENUE ${process.env.EXPECT_REVENUE}`);
    assert.equal(await page.locator('[data-testid=revenue]').innerText(), fmt(revenue, 2));
    await shot('overview');
  });

  await check('RFM groups: every group size and CLV match /v1/segments', async () => {
    await visit('/ui/rfm', 2);
    for (const g of segments.rfm) {
      const row = page.locator(`tr[data-group="${g.name}"]`);
      assert.equal(await row.locator(`[data-testid="size-${g.name}"]`).innerText(), fmt(g.customers, 0), g.name);
      assert.equal(await row.locator('td').nth(4).innerText(), g.clv == null ? '–' : fmt(g.clv, 2), `${g.name} CLV`);
    }
    await shot('rfm');
  });

  await check('churn risk: charts from the churn model', async () => {
    await visit('/ui/risk', 2);
    assert.equal(await page.locator('#risk-source').getAttribute('data-source'), 'churn_model');
    await shot('risk');
  });

  await check('cohorts: retention heat map', async () => {
    await visit('/ui/cohorts', 1);
    assert.ok((await page.locator('#cohorts tr').count()) > 2);
    await shot('cohorts');
  });

  await check('sentiment: trend charts of the reviews', async () => {
    await visit('/ui/sentiment', 2);
    assert.equal(await page.locator('#no-reviews').count(), 0);
    await shot('sentiment');
  });

  const models = (await api('/v1/models')).models;
  await check('models: every registered model has a page with its curves', async () => {
    await visit('/ui/models', 0);
    assert.equal(await page.locator('#models tr').count(), models.length + 1);
    await shot('models');
    assert.ok(models.some((m) => m.kind.includes('churn')), 'a churn model is registered');
    for (const m of models) {
      await visit(`/ui/models/${encodeURIComponent(m.model_id)}`, 0);
      if (m.kind.includes('churn')) {
        assert.equal(await page.locator('#roc svg').count(), 1, `${m.model_id} ROC`);
        assert.equal(await page.locator('#calibration svg').count(), 1, `${m.model_id} calibration`);
        const auc = m.metrics?.auc ?? m.metrics?.model?.auc;
        if (typeof auc === 'number') {
          assert.equal(await page.locator('[data-testid=auc]').innerText(), fmt(auc, 4));
        }
        await shot('model-churn');
      } else if (await page.locator('#tracking').count()) {
        assert.equal(await page.locator('#tracking svg').count(), 1);
        await shot('model-value');
      }
    }
  });

  const top = await api('/v1/customers?limit=1&sort=clv');
  const id = top.items[0].customer_id;
  await check('customer search finds a customer and links the drill-down', async () => {
    await visit('/ui/customers', 0);
    await page.fill('#q', id);
    await Promise.all([page.waitForURL(/q=/), page.click('form.search button')]);
    const link = page.locator(`#customer-list a[href="/ui/customers/${encodeURIComponent(id)}"]`);
    assert.equal(await link.count(), 1);
    await shot('customers');
    await Promise.all([page.waitForURL(/\/ui\/customers\/[^?]/), link.click()]);
  });

  await check('customer drill-down: P(alive), CLV and segment match /v1/customers/{id}', async () => {
    const c = await api(`/v1/customers/${encodeURIComponent(id)}`);
    assert.equal(await svgs(), 1);
    assert.equal(await page.locator('#customer-id').innerText(), id);
    assert.equal(await page.locator('[data-testid=p_alive]').innerText(), fmt(c.scores.p_alive, 3));
    assert.equal(await page.locator('[data-testid=clv]').innerText(), fmt(c.scores.clv, 2));
    assert.equal(await page.locator('[data-testid=segment-card]').getAttribute('data-value'), c.scores.rfm_group);
    if (c.risk?.churn_probability != null) {
      assert.equal(await page.locator('[data-testid=churn]').innerText(), fmt(c.risk.churn_probability, 3));
    }
    assert.equal(await page.locator('#orders tr').count(), c.recent_orders.length + 1);
    if (c.profile?.email) {
      // The API's masked form, and nothing more, is on the page.
      assert.ok(c.profile.email.includes('***'), c.profile.email);
      assert.ok((await page.locator('main').innerText()).includes(c.profile.email));
    }
    await shot('customer');
  });

  await check('the language toggle switches to Chinese and back', async () => {
    await page.goto(base + '/ui');
    await Promise.all([page.waitForURL(/lang=zh/), page.click('#lang-toggle')]);
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    assert.ok((await page.locator('header nav').innerText()).includes('概览'));
    assert.equal(await page.locator('[data-testid=customers]').innerText(), fmt(groupTotal, 0));
    await shot('overview-zh');
    await visit('/ui/rfm?lang=zh', 2);
    assert.ok((await page.locator('main').innerText()).includes('冠军客户'));
    await shot('rfm-zh');
    await Promise.all([page.waitForURL(/lang=en/), page.click('#lang-toggle')]);
    assert.ok((await page.locator('header nav').innerText()).includes('Overview'));
  });

  await check('no console errors or blocked resources', async () => {
    assert.deepEqual(problems, []);
  });
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

console.log(checks.join('\n'));
if (failures > 0) {
  console.error(`browser test: ${failures} check(s) failed`);
  process.exit(1);
}
console.log(`browser test: all ${checks.length} checks passed; screenshots in ${shots}`);
