#!/usr/bin/env python3
"""Render report fixtures (bench, scenario, capacity) with `ticketctl report`
and load each page in headless Chromium at 1280x900. Fails when the page
scrolls sideways or any table or chart sticks out of the viewport, or when
a chart has nothing drawn in it (no path or bar). Skips (77) without
Chromium. Usage: report_browser.py TICKETCTL FIXTURES_DIR"""
import glob, json, os, re, shutil, subprocess, sys, tempfile

PROBE = """<script>
(function () {
  var d = document.documentElement, out = {sw: d.scrollWidth, cw: d.clientWidth, wide: [], charts: []};
  document.querySelectorAll('table, svg, .panel, .cards').forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (r.right > window.innerWidth + 1) out.wide.push(e.tagName + ' right=' + Math.round(r.right));
  });
  document.querySelectorAll('svg').forEach(function (s) {
    out.charts.push({name: s.getAttribute('aria-label'), marks: s.querySelectorAll('path, rect').length});
  });
  document.title = 'PROBE' + JSON.stringify(out);
})();
</script>"""


def main():
    tk, fixtures = sys.argv[1], sys.argv[2]
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chrome:
        print("report_browser: SKIP, no chromium (scripts/install-deps installs it)")
        return 77
    tmp = tempfile.mkdtemp(prefix="tk-report-browser-")
    failed, checked = 0, 0
    try:
        for fx in sorted(glob.glob(os.path.join(fixtures, "report-*.json"))):
            subprocess.run([tk, "report", fx, "--out-dir", tmp], check=True, stdout=subprocess.DEVNULL)
            html = os.path.join(tmp, os.path.basename(fx)[:-5] + ".html")
            page = open(html, encoding="utf-8").read().replace("</body>", PROBE + "</body>")
            probe = html[:-5] + ".probe.html"
            open(probe, "w", encoding="utf-8").write(page)
            dom = subprocess.run([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                  "--window-size=1280,900", "--virtual-time-budget=2000", "--dump-dom",
                                  "file://" + probe], capture_output=True, text=True, timeout=120).stdout
            m = re.search(r"<title>PROBE(.*?)</title>", dom, re.S)
            name = os.path.basename(fx)
            if not m:
                print(f"FAIL {name}: the page did not run the probe")
                failed += 1
                continue
            r = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
            problems = []
            if r["sw"] > r["cw"]:
                problems.append(f"scrolls sideways: {r['sw']} px wide in a {r['cw']} px window")
            problems += [f"sticks out: {w}" for w in r["wide"]]
            problems += [f"empty chart: {c['name']}" for c in r["charts"] if c["marks"] == 0]
            if not r["charts"]:
                problems.append("no chart at all")
            checked += 1
            if problems:
                failed += 1
                print(f"FAIL {name}: " + "; ".join(problems))
            else:
                print(f"ok   {name}: {len(r['charts'])} charts, {r['sw']} px wide at 1280")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if checked == 0:
        print("report_browser: no fixtures found")
        return 1
    print(f"{checked - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
