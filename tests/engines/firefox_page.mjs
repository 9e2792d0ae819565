// One Firefox page (Debian's firefox-esr over WebDriver BiDi, driven by puppeteer-core: no
// browser download), steered by the tests through JSON lines on stdin; each command gets one
// JSON line on stdout. Commands: {"goto": url}, {"shot": true} (a PNG, base64), {"eval": js}.
import readline from 'node:readline';
import puppeteer from 'puppeteer-core';

const [executablePath, width, height] = process.argv.slice(2);
const browser = await puppeteer.launch({browser: 'firefox', executablePath, headless: true});
const page = await browser.newPage();
await page.setViewport({width: Number(width), height: Number(height)});
console.log(JSON.stringify({ready: await browser.version()}));

for await (const line of readline.createInterface({input: process.stdin})) {
  const command = JSON.parse(line);
  try {
    if (command.goto) {
      await page.goto(command.goto, {waitUntil: 'domcontentloaded'});
      console.log(JSON.stringify({ok: true}));
    } else if (command.shot) {
      console.log(JSON.stringify({png: await page.screenshot({encoding: 'base64'})}));
    } else if (command.eval) {
      console.log(JSON.stringify({value: await page.evaluate(command.eval)}));
    }
  } catch (error) {
    console.log(JSON.stringify({error: String(error)}));
  }
}
await browser.close();
