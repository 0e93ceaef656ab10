// Parse user agents with ua-parser-js 1.x (what OpenPanel's parser-user-agent.ts is built on).
// Input on stdin: {"userAgents": [...]}; output: one {os, osVersion, browser, browserVersion,
// device, vendor, model} per user agent, in order, as {"results": [...]}.
import { UAParser } from "ua-parser-js";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { userAgents } = JSON.parse(input);
const out = userAgents.map((ua) => {
  const r = new UAParser(ua).getResult();
  return {
    os: r.os.name ?? "",
    osVersion: r.os.version ?? "",
    browser: r.browser.name ?? "",
    browserVersion: r.browser.version ?? "",
    device: r.device.type ?? "",
    vendor: r.device.vendor ?? "",
    model: r.device.model ?? "",
  };
});
process.stdout.write(JSON.stringify({ results: out }));
