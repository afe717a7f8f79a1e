/* The waiting room's pages for people (issue 12, docs/WAITING-ROOM.md):
 * GET /queue/{id} is a small self-contained HTML page (inline CSS and
 * script, no external assets) that takes a place, shows position, people
 * ahead, estimated wait and progress, polls the status route at the
 * server's poll_after_ms with its X-Queue-Token (a stateless poll), and
 * moves on to GET /queue/{id}/seats when admitted; that page lists the
 * available seats and holds one with the admitted token.
 *
 * Sign-in: the page takes a JWT from its URL fragment (#jwt=..., never sent
 * to the server) or shows a login form (#hold=1 makes the seat page hold
 * the first seat by itself: kiosks, demos and the browser test); the JWT and the queue token live in
 * sessionStorage of the tab, so a reload keeps the place. Both pages are
 * static strings served on the loop thread (R_INLINE | R_HTML); all data
 * comes from the JSON API; a poll sends the queue token alone (it is the
 * credential of a stateless poll, like Cloudflare's cookie). For tests the page records what it showed in
 * data attributes of <html>: data-state (starting, waiting, admitted,
 * error), data-positions (every position shown, comma separated; kept into
 * the seat page), and on the seat page data-seats and data-held (the
 * reservation id); each change is also logged to the console as
 * "waiting-room <name>=<value>" (headless Chromium prints it with
 * --enable-logging=stderr, which is how tests/itest_queue_page.c reads it). */
#include "queue_page.h"

#include <stdlib.h>
#include <string.h>

static const char page_css[] =
    "<style>[hidden]{display:none!important}"
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}"
    "main{max-width:34rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:12px;"
    "box-shadow:0 2px 12px rgba(0,0,0,.08)}"
    "h1{font-size:1.5rem;margin:0 0 .5rem}dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}"
    "dt{color:#5b6475}dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums}"
    ".bar{height:12px;background:#e3e6ec;border-radius:6px;overflow:hidden;margin:1rem 0}"
    ".bar div{height:100%;width:0;background:#2f6fde;transition:width .4s}"
    ".note{color:#5b6475;font-size:.9rem}#msg[data-kind=error]{color:#b3261e}"
    "table{width:100%;border-collapse:collapse}td,th{padding:.3rem;text-align:left;border-bottom:1px solid #e3e6ec}"
    "button{font:inherit;padding:.3rem .8rem;border-radius:6px;border:1px solid #2f6fde;background:#2f6fde;"
    "color:#fff;cursor:pointer}button:disabled{opacity:.5}"
    "form{display:grid;gap:.5rem}input{font:inherit;padding:.4rem}"
    "</style>";

/* Shared script: sale id from the path, JWT from the fragment or storage,
 * api() with the bearer and queue tokens, the login form. */
static const char page_common_js[] =
    "var sale=location.pathname.split('/')[2],qkey='tk.q.'+sale,pkey='tk.seen.'+sale;"
    "var frag=new URLSearchParams(location.hash.slice(1));"
    "if(frag.get('jwt'))sessionStorage.setItem('tk.jwt',frag.get('jwt'));"
    "function $(i){return document.getElementById(i);}"
    "function jwt(){return sessionStorage.getItem('tk.jwt');}"
    "function mark(k,v){document.documentElement.setAttribute('data-'+k,v);console.info('waiting-room '+k+'='+v);}"
    "function say(t,kind){var m=$('msg');m.textContent=t;m.setAttribute('data-kind',kind||'info');}"
    "function api(method,path,body,qonly){var h=qonly?{}:{'Authorization':'Bearer '+jwt(),'Content-Type':'application/json'};"
    "var q=sessionStorage.getItem(qkey);if(q)h['X-Queue-Token']=q;"
    "return fetch(path,{method:method,headers:h,body:body?JSON.stringify(body):undefined})"
    ".then(function(r){return r.json().catch(function(){return{};}).then(function(b){return{status:r.status,body:b};});});}"
    "function errtext(r){return r.body&&r.body.error?r.body.error.message:'HTTP '+r.status;}"
    "function login(then){var f=$('login');f.hidden=false;f.onsubmit=function(e){e.preventDefault();"
    "fetch('/api/v1/auth/login',{method:'POST',headers:{'Content-Type':'application/json'},"
    "body:JSON.stringify({email:f.email.value,password:f.password.value})}).then(function(r){return r.json();})"
    ".then(function(b){if(!b.token){say('Wrong email or password.','error');return;}"
    "sessionStorage.setItem('tk.jwt',b.token);f.hidden=true;then();});};}";

static const char page_login_form[] =
    "<form id=\"login\" hidden><label>Email <input name=\"email\" type=\"email\" autocomplete=\"username\" required></label>"
    "<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>"
    "<button>Sign in and take my place</button></form>";

static const char waiting_body[] =
    "<main><h1>You are in line</h1>"
    "<p id=\"msg\" aria-live=\"polite\">Taking your place&hellip;</p>"
    "<dl><dt>Your position</dt><dd id=\"position\">&ndash;</dd>"
    "<dt>People ahead of you</dt><dd id=\"ahead\">&ndash;</dd>"
    "<dt>Estimated wait</dt><dd id=\"wait\">&ndash;</dd></dl>"
    "<div class=\"bar\" role=\"progressbar\" aria-valuemin=\"0\" aria-valuemax=\"100\" id=\"bar\">"
    "<div id=\"progress\"></div></div>"
    "<p class=\"note\">Keep this page open: it updates by itself and takes you to the seats when it is your "
    "turn. Reloading keeps your place.</p>";

static const char waiting_js[] =
    "var first=null,seen=(sessionStorage.getItem(pkey)||'').split(',').filter(Boolean);mark('state','starting');"
    "function dur(s){if(s<60)return s+' s';var m=Math.round(s/60);return m<60?m+' min':Math.floor(m/60)+' h '+(m%60)+' min';}"
    "function show(s){if(first===null||s.position>first)first=s.position;"
    "$('position').textContent=s.position.toLocaleString('en');$('ahead').textContent=s.ahead.toLocaleString('en');"
    "$('wait').textContent=dur(s.estimated_wait_s);"
    "var pct=first>0?Math.round(100*(first-s.position)/first):0;if(s.queueing==='random')pct=0;"
    "$('progress').style.width=pct+'%';$('bar').setAttribute('aria-valuenow',pct);"
    "if(seen[seen.length-1]!==String(s.position)){seen.push(String(s.position));sessionStorage.setItem(pkey,seen.join(','));}"
    "if(document.documentElement.getAttribute('data-positions')!==seen.join(','))mark('positions',seen.join(','));"
    "if(document.documentElement.getAttribute('data-state')!=='waiting')mark('state','waiting');"
    "say(s.sale_open===false?'The sale has not opened yet: your place is kept.':"
    "s.queueing==='random'?'Users are admitted at random from those waiting.':'Waiting for your turn.');}"
    "function step(s){if(s.admitted){mark('state','admitted');say('It is your turn!');"
    "$('progress').style.width='100%';location.href='/queue/'+sale+'/seats'+location.hash;return;}"
    "show(s);setTimeout(poll,Math.max(200,s.poll_after_ms||1000));}"
    "function retry(f){say('Connection trouble, retrying…','error');setTimeout(f,2000);}"
    "function take(){api('POST','/api/v1/queue/'+sale+'/token').then(function(r){"
    "if(r.status===401&&!r.body.error.code.match(/QUEUE/)){sessionStorage.removeItem('tk.jwt');return login(take);}"
    "if(r.status>=400){mark('state','error');return say(errtext(r),'error');}"
    "sessionStorage.setItem(qkey,r.body.token);step(r.body);}).catch(function(){retry(take);});}"
    "function poll(){api('GET','/api/v1/queue/'+sale+'/status',null,true).then(function(r){"
    "if(r.status===404||r.status===401||r.status===403){sessionStorage.removeItem(qkey);return take();}"
    "if(r.status>=400)return retry(poll);step(r.body);}).catch(function(){retry(poll);});}"
    "if(!jwt())login(take);else if(sessionStorage.getItem(qkey))poll();else take();";


static const char seats_body[] =
    "<main><h1>Choose your seat</h1>"
    "<p id=\"msg\" aria-live=\"polite\">Loading the available seats&hellip;</p>"
    "<table><thead><tr><th>Seat</th><th>Grade</th><th>Price</th><th></th></tr></thead>"
    "<tbody id=\"seats\"></tbody></table>"
    "<p class=\"note\">Your admission is limited in time: hold a seat, then pay for it.</p>";

static const char seats_js[] =
    "mark('positions',sessionStorage.getItem(pkey)||'');mark('state','admitted');"
    "function hold(id,b){b.disabled=true;api('POST','/api/v1/reservations',{seat_id:id}).then(function(r){"
    "if(r.status===201){mark('held',r.body.id);say('Seat held: reservation '+r.body.id+'. Pay within 10 minutes.');"
    "Array.prototype.forEach.call(document.querySelectorAll('#seats button'),function(x){x.disabled=true;});return;}"
    "if(r.body.error&&r.body.error.code==='NOT_ADMITTED'){location.href='/queue/'+sale;return;}"
    "b.disabled=false;say(errtext(r),'error');});}"
    "function load(){fetch('/api/v1/schedules/'+sale+'/seats').then(function(r){return r.json();}).then(function(b){"
    "var t=$('seats');t.textContent='';(b.items||[]).forEach(function(s){var tr=document.createElement('tr');"
    "[s.section+' '+s.row+'-'+s.number,s.grade,s.price.toLocaleString('en')+' KRW'].forEach(function(v){"
    "var td=document.createElement('td');td.textContent=v;tr.appendChild(td);});"
    "var td=document.createElement('td'),bt=document.createElement('button');bt.textContent='Hold';"
    "bt.setAttribute('data-seat',s.id);bt.onclick=function(){hold(s.id,bt);};td.appendChild(bt);tr.appendChild(td);"
    "t.appendChild(tr);});say((b.items||[]).length+' seats available.');mark('seats',(b.items||[]).length);"
    "var f=document.querySelector('#seats button');if(frag.get('hold')==='1'&&f)f.click();})"
    ".catch(function(){say('Cannot load the seats.','error');});}"
    "if(!jwt())login(load);else load();";

/* head + css + body + login form + script(common + page) + tail, malloc'd. */
static char *render(const char *title, const char *body, const char *js, size_t *len)
{
    static const char head1[] = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                                "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>";
    static const char head2[] = "</title>";
    static const char mid[] = "</head><body>";
    static const char script[] = "<script>(function(){'use strict';";
    static const char tail[] = "})();</script></main></body></html>";
    const char *parts[] = {head1, title, head2, page_css, mid, body, page_login_form, script, page_common_js, js, tail};
    size_t n = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        n += strlen(parts[i]);
    char *out = malloc(n + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t l = strlen(parts[i]);
        memcpy(p, parts[i], l);
        p += l;
    }
    *p = '\0';
    *len = n;
    return out;
}

static void reply_page(tk_job *j, const char *title, const char *body, const char *js)
{
    free(j->resp);
    j->resp = render(title, body, js, &j->resp_len);
    if (j->resp)
        j->status = 200;
    else
        job_reply_error(j, 503, "BUSY", "out of memory");
}

void h_queue_page(tk_job *j, tk_worker *w)
{
    (void)w; /* inline: a static page; the schedule id is read by the script from the path */
    reply_page(j, "Waiting room", waiting_body, waiting_js);
}

void h_queue_seat_page(tk_job *j, tk_worker *w)
{
    (void)w;
    reply_page(j, "Choose your seat", seats_body, seats_js);
}
