/** HTML building blocks of the report: escaping, relative links, the page shell with its inline CSS and JS. */

export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A relative link to a file under the output folder: each path segment URL-encoded ('#', spaces). */
export function href(relative: string): string {
  return relative.split(/[\\/]/).map(encodeURIComponent).join('/');
}

/** A number for a table: 4 significant digits, exponent form when very large or small. */
export function num(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

export function table(head: string[], rows: string[][], className = ''): string {
  return `<table${className ? ` class="${className}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** A cell of a sortable table: shown as `html`, sorted by `value` (a number sorts numerically, NaN last). */
export interface Cell {
  html: string;
  value: number | string;
}

/** A number cell: shown with num(), sorted by the number itself. */
export function numCell(v: number | undefined): Cell {
  return { html: num(v), value: typeof v === 'number' && Number.isFinite(v) ? v : NaN };
}

export function textCell(text: string, html = esc(text)): Cell {
  return { html, value: text };
}

/** A table whose columns sort on a click of their header (the page's script; values in data-v). */
export function sortableTable(head: string[], rows: Cell[][], id?: string): string {
  const cell = (c: Cell) => `<td data-v="${esc(typeof c.value === 'number' ? (Number.isNaN(c.value) ? '' : String(c.value)) : c.value)}">${c.html}</td>`;
  return `<table class="sortable"${id ? ` id="${esc(id)}"` : ''}><thead><tr>${head.map((h) => `<th tabindex="0" title="sort by ${esc(h)}">${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map(cell).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** Links to files of the output folder, by label: `npy · NIfTI`. */
export function fileLinks(files: [label: string, relative: string | undefined][]): string {
  return files
    .filter((f): f is [string, string] => typeof f[1] === 'string' && f[1].length > 0)
    .map(([label, file]) => `<a href="${href(file)}">${esc(label)}</a>`)
    .join(' · ');
}

const CSS = `
:root{--fg:#1b1b1b;--muted:#666;--line:#ddd;--accent:#2a6fdb;--bg:#fff;--panel:#f6f7f9}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1180px;padding:16px 20px 60px}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.muted{color:var(--muted)}code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
pre{background:var(--panel);padding:8px;overflow:auto;max-height:360px}
table{border-collapse:collapse;margin:6px 0}td,th{border-bottom:1px solid var(--line);padding:3px 10px 3px 0;text-align:left;vertical-align:top}th{font-weight:600}
table.kv td:first-child{color:var(--muted);white-space:nowrap}
td.diff{background:#fff3cd}
nav a{margin-right:12px}
.sheet{max-width:100%;height:auto;border:1px solid var(--line)}
.controls{margin:8px 0;display:flex;gap:14px;align-items:center;flex-wrap:wrap}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(112px,1fr));gap:8px}
.tile{border:1px solid var(--line);background:var(--panel);padding:3px;cursor:zoom-in;text-align:center;font-size:11px;color:var(--fg)}
.tile:hover,.tile:focus{outline:2px solid var(--accent)}
.tile img{width:100%;height:auto;image-rendering:pixelated;display:block}
.tile.dead{opacity:.55}
.crop{position:relative;display:block;overflow:hidden;width:100%}
.tile .crop img,.crop img{position:absolute;max-width:none;height:auto;image-rendering:pixelated;display:block}
.details{display:none}
#zoom{position:fixed;inset:0;background:rgba(20,20,25,.78);display:none;align-items:center;justify-content:center;z-index:10}
#zoom.open{display:flex}
#zoom .panel{background:#fff;max-width:min(980px,96vw);max-height:94vh;overflow:auto;padding:16px;display:flex;gap:18px;flex-wrap:wrap}
img.anim{image-rendering:pixelated}
#zoom img.big{width:384px;max-width:80vw;height:auto;image-rendering:pixelated;border:1px solid var(--line)}
#zoom .crop.big{width:384px;max-width:80vw;flex:none;align-self:flex-start;border:1px solid var(--line)}
#zoom .close{position:absolute;top:10px;right:16px;font-size:26px;color:#fff;background:none;border:0;cursor:pointer}
.compare{position:relative;display:inline-block;max-width:100%;line-height:0;border:1px solid var(--line)}
.compare img{max-width:100%;width:512px;height:auto;image-rendering:pixelated}
.compare img.after{position:absolute;left:0;top:0}
.compare .tag{position:absolute;top:4px;font-size:11px;line-height:1.2;background:rgba(0,0,0,.6);color:#fff;padding:1px 5px}
.compare .tag.l{left:4px}.compare .tag.r{right:4px}
.slider{width:512px;max-width:100%;display:block}
.row{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
svg.curve{background:var(--panel)}svg.curve text{font-size:10px;fill:#555}
.error{color:#a40000}
table.sortable th{cursor:pointer;user-select:none;white-space:nowrap}
table.sortable th[aria-sort=descending]::after{content:" \\25BE"}table.sortable th[aria-sort=ascending]::after{content:" \\25B4"}
td.num,table.sortable td{font-variant-numeric:tabular-nums}
.pair{display:flex;gap:12px;flex-wrap:wrap;align-items:flex-start}
.pair figure{margin:0}.pair figcaption{font-size:12px;color:var(--muted)}
.pair img{width:256px;max-width:44vw;height:auto;image-rendering:pixelated;border:1px solid var(--line)}
.bar{display:inline-block;height:10px;background:var(--accent);vertical-align:middle}
`;

/** Zoom (tile -> large view with its stats), sorting of tile grids, and before/after sliders. No dependencies. */
const JS = `
(function(){
  var zoom=document.getElementById('zoom');
  function openZoom(tile){
    var body=zoom.querySelector('.body');
    body.innerHTML='';
    var shown=tile.querySelector('.crop')||tile.querySelector('img');
    var big=shown.cloneNode(true);big.classList.add('big');
    var img=big.tagName==='IMG'?big:big.querySelector('img');
    img.removeAttribute('loading');img.alt=tile.getAttribute('data-name');
    body.appendChild(big);
    var info=document.createElement('div');
    info.innerHTML=tile.querySelector('.details').innerHTML;
    body.appendChild(info);
    zoom.setAttribute('data-showing',tile.getAttribute('data-name'));
    zoom.classList.add('open');
  }
  function closeZoom(){zoom.classList.remove('open');zoom.removeAttribute('data-showing');}
  document.querySelectorAll('.tile').forEach(function(t){t.addEventListener('click',function(){openZoom(t);});t.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();openZoom(t);}});});
  if(zoom){
    zoom.addEventListener('click',function(e){if(e.target===zoom||e.target.classList.contains('close'))closeZoom();});
    document.addEventListener('keydown',function(e){if(e.key==='Escape')closeZoom();});
  }
  document.querySelectorAll('select.sort').forEach(function(sel){
    sel.addEventListener('change',function(){
      var grid=document.getElementById(sel.getAttribute('data-grid'));
      var key=sel.value,tiles=Array.prototype.slice.call(grid.children);
      var desc=key!=='index';
      tiles.sort(function(a,b){
        var x=parseFloat(a.getAttribute('data-'+key)),y=parseFloat(b.getAttribute('data-'+key));
        if(isNaN(x))x=-Infinity;if(isNaN(y))y=-Infinity;
        return desc?y-x:x-y;
      });
      tiles.forEach(function(t){grid.appendChild(t);});
    });
  });
  document.querySelectorAll('table.sortable').forEach(function(t){
    t.querySelectorAll('th').forEach(function(th,col){
      function sort(){
        var desc=th.getAttribute('aria-sort')!=='descending';
        t.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');});
        th.setAttribute('aria-sort',desc?'descending':'ascending');
        var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=a.cells[col].getAttribute('data-v'),y=b.cells[col].getAttribute('data-v');
          var nx=x===''?NaN:Number(x),ny=y===''?NaN:Number(y);
          if(!isNaN(nx)||!isNaN(ny)){
            if(isNaN(nx))return 1;if(isNaN(ny))return -1;
            return desc?ny-nx:nx-ny;
          }
          return desc?String(y).localeCompare(String(x)):String(x).localeCompare(String(y));
        });
        rows.forEach(function(r){body.appendChild(r);});
      }
      th.addEventListener('click',sort);
      th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sort();}});
    });
  });
  document.querySelectorAll('.compare').forEach(function(c){
    var slider=c.parentNode.querySelector('input.slider'),after=c.querySelector('img.after');
    function set(){after.style.clipPath='inset(0 0 0 '+slider.value+'%)';}
    slider.addEventListener('input',set);set();
  });
})();
`;

export interface Page {
  title: string;
  header: string;
  nav: { id: string; label: string }[];
  sections: string[];
}

export function page(p: Page): string {
  const nav = p.nav.length > 1 ? `<nav>${p.nav.map((n) => `<a href="#${esc(n.id)}">${esc(n.label)}</a>`).join('')}</nav>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(p.title)}</title><style>${CSS}</style></head>
<body>
${p.header}
${nav}
${p.sections.join('\n')}
<div id="zoom" role="dialog" aria-modal="true"><button class="close" aria-label="close">&times;</button><div class="panel body"></div></div>
<script>${JS}</script>
</body></html>
`;
}
