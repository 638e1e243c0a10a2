package diagnostics

import (
	"bytes"
	"html/template"
	"net/http"
)

// layout is shared by every page; each page defines "content".
const layout = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Legate · {{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#222}
nav{background:#2b3a55;padding:.6em 1em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}
nav a.on{font-weight:bold;text-decoration:underline}
main{padding:1em 1.5em}table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#eef}code{font-size:.95em}.miss{color:#a33}.hit{background:#dfd}.err{color:#a00}
</style></head>
<body><nav>
{{range .Nav}}<a href="{{.Href}}"{{if .On}} class="on"{{end}}>{{.Label}}</a>{{end}}
</nav><main><h1>{{.Title}}</h1>{{template "content" .Data}}</main></body></html>`

var pages = map[string]string{
	"overview": `{{if .Version}}<p>Snapshot <code>{{.Version}}</code> built {{.BuiltAt}} in {{.Translation}}.</p>{{else}}<p>No configuration published yet.</p>{{end}}
<h2>Inputs</h2><table><tr><th>Kind</th><th>Valid</th><th>Invalid</th><th>With warnings</th></tr>
{{range .Inputs}}<tr><td>{{.Kind}}</td><td>{{.Valid}}</td><td>{{.Invalid}}</td><td>{{.Warnings}}</td></tr>{{end}}</table>
<h2>Published</h2><table><tr><th>Listeners</th><th>Route configs</th><th>Virtual hosts</th><th>Routes</th><th>Clusters</th><th>Endpoints</th><th>Secrets</th></tr>
<tr><td>{{.Resources.Listeners}}</td><td>{{.Resources.RouteConfigs}}</td><td>{{.Resources.VirtualHosts}}</td><td>{{.Resources.Routes}}</td><td>{{.Resources.Clusters}}</td><td>{{.Resources.Endpoints}}</td><td>{{.Resources.Secrets}}</td></tr></table>
<h2>Connected Envoys</h2><table><tr><th>Node</th><th>Group</th><th>Connected</th><th>ACKed versions</th><th>Last NACK</th></tr>
{{range .Envoys}}<tr><td>{{.NodeID}}</td><td>{{.Group}}</td><td>{{.Connected}}</td><td>{{range $t, $v := .Acked}}{{$t}}: <code>{{$v}}</code><br>{{end}}</td>
<td>{{range .NACKs}}<span class="err">{{.TypeURL}} {{.Version}}: {{.Error}} (×{{.Count}})</span><br>{{end}}</td></tr>{{else}}<tr><td colspan="5">none</td></tr>{{end}}</table>`,
	"routes": `{{range .}}<h2>{{.RouteConfig}}{{if .Port}} (port {{.Port}}){{end}}</h2>
{{range .VirtualHosts}}<h3>{{.Name}}: {{range .Domains}}<code>{{.}}</code> {{end}}</h3>
<table><tr><th>#</th><th>Match</th><th>Action</th><th>Filters</th><th>Source</th></tr>
{{range .Routes}}<tr><td>{{.Index}}</td><td><code>{{.Match}}</code></td><td>{{template "action" .Action}}</td>
<td>{{range .Filters}}{{.}}<br>{{end}}</td><td>{{with .Source}}{{.Kind}} {{.Namespace}}/{{.Name}}{{if .Field}} <code>{{.Field}}</code>{{end}}{{end}}<br><small>{{.Name}}</small>{{range $k, $v := .Annotations}}<br><small>{{$k}}: {{$v}}</small>{{end}}</td></tr>{{end}}
</table>{{end}}{{else}}<p>No routes.</p>{{end}}`,
	"problems": `<table><tr><th>Object</th><th>Severity</th><th>Field</th><th>Reason</th><th>Message</th></tr>
{{range .}}<tr><td>{{.Object}}</td><td>{{.Severity}}</td><td><code>{{.Field}}</code></td><td>{{.Reason}}</td><td>{{.Message}}</td></tr>{{else}}<tr><td colspan="5">No problems.</td></tr>{{end}}</table>`,
	"clusters": `{{if .EnvoyAdmin}}<p>Host health from the Envoy at <code>{{.EnvoyAdmin}}</code>{{if .EnvoyError}}: <span class="err">{{.EnvoyError}}</span>{{end}}.</p>{{end}}
<table><tr><th>Cluster</th><th>Kind</th><th>Source</th><th>Protocol</th><th>Endpoints</th>{{if .EnvoyAdmin}}<th>Envoy hosts</th>{{end}}</tr>
{{range .Clusters}}<tr><td>{{.Name}}</td><td>{{.Kind}}</td><td>{{.Source.Kind}} {{.Source.Namespace}}/{{.Source.Name}}</td><td>{{.Protocol}}</td>
<td>{{.DNS}}{{range .Endpoints}}{{.Address}}:{{.Port}} {{if .Ready}}ready{{else}}<span class="err">not ready</span>{{end}}<br>{{end}}</td>
{{if $.EnvoyAdmin}}<td>{{range .EnvoyHosts}}{{.Address}} {{if eq .Health "HEALTHY"}}healthy{{else}}<span class="err">{{.Health}}{{range .Reasons}}; {{.}}{{end}}</span>{{end}}<br>{{else}}none{{end}}</td>{{end}}</tr>
{{else}}<tr><td colspan="5">No clusters.</td></tr>{{end}}</table>`,
	"diff": `<p>From <code>{{.From}}</code> to <code>{{.To}}</code>.</p><table><tr><th>Type</th><th>Name</th><th>Change</th></tr>
{{range .Changes}}<tr><td>{{.Type}}</td><td>{{.Name}}</td><td>{{.Change}}</td></tr>{{else}}<tr><td colspan="3">No changes.</td></tr>{{end}}</table>`,
	"metrics": `<p>What Legate exports on its metrics address at <code>/metrics</code>.</p>
<table><tr><th>Metric</th><th>Type</th><th>Meaning</th></tr>
{{range .}}<tr><td><code>{{.Name}}</code></td><td>{{.Type}}</td><td>{{.Help}}</td></tr>{{else}}<tr><td colspan="3">No metrics registry attached.</td></tr>{{end}}</table>`,
	"explain": `<form method="get" action="/explain">
<label>Method <input name="method" value="{{.Query.Method}}" size="6"></label>
<label>Scheme <select name="scheme"><option{{if ne .Query.Scheme "https"}} selected{{end}}>http</option><option{{if eq .Query.Scheme "https"}} selected{{end}}>https</option></select></label>
<label>Host <input name="host" value="{{.Query.Host}}"></label>
<label>Path <input name="path" value="{{.Query.Path}}" size="40"></label><br>
<label>Headers (one "name: value" a line)<br><textarea name="headers" rows="3" cols="50">{{.HeaderText}}</textarea></label>
<label>Listener <input name="listener" value="{{.Query.Listener}}"></label>
<button type="submit" id="explain">Explain</button></form>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
{{with .Result}}<h2>Result</h2>
<p>Route configuration <code>{{.RouteConfig}}</code>, virtual host {{if .VirtualHost}}<code>{{.VirtualHost}}</code> (domain <code>{{.Domain}}</code>){{else}}<span class="miss">none: no domain matches the host</span>{{end}}.</p>
<p id="outcome">{{if .Route}}Matched route {{.RouteIndex}} <code id="route">{{.Route}}</code>: {{else}}No route matched: {{end}}{{template "action" .Action}}</p>
{{if .Skipped}}<h3>Routes that did not match</h3><table><tr><th>#</th><th>Route</th><th>Why not</th></tr>
{{range .Skipped}}<tr><td>{{.Index}}</td><td><code>{{.Route}}</code></td><td class="miss">{{.Reason}}</td></tr>{{end}}</table>{{end}}{{end}}`,
}

const actionTemplate = `{{define "action"}}{{if eq .Kind "Forward"}}forward to {{range .Clusters}}<code>{{.Cluster}}</code>{{if .Weight}} (weight {{.Weight}}){{end}} {{end}}{{else if eq .Kind "Redirect"}}redirect {{.Status}}{{if .RedirectScheme}} scheme {{.RedirectScheme}}{{end}}{{if .RedirectHost}} host {{.RedirectHost}}{{end}}{{if .RedirectPath}} path {{.RedirectPath}}{{end}}{{else if eq .Kind "DirectResponse"}}answer {{.Status}}{{else}}404 Not Found{{end}}{{end}}`

var nav = []struct{ Href, Label, Page string }{
	{"/", "Overview", "overview"}, {"/routes", "Routes", "routes"}, {"/explain", "Explain", "explain"},
	{"/problems", "Problems", "problems"}, {"/clusters", "Clusters", "clusters"}, {"/diff", "Diff", "diff"}, {"/metrics-help", "Metrics", "metrics"},
}

var titles = map[string]string{
	"overview": "Overview", "routes": "Routes", "problems": "Problems", "clusters": "Clusters",
	"diff": "Snapshot diff", "explain": "Route explainer", "metrics": "Metrics",
}

var templates = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for name, body := range pages {
		t := template.Must(template.New("layout").Parse(layout))
		template.Must(t.Parse(actionTemplate))
		template.Must(t.New("content").Parse(body))
		out[name] = t
	}
	return out
}()

type navItem struct {
	Href, Label string
	On          bool
}

func (s *Server) page(name string, data func(*http.Request) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var items []navItem
		for _, n := range nav {
			items = append(items, navItem{Href: n.Href, Label: n.Label, On: n.Page == name})
		}
		var buf bytes.Buffer
		err := templates[name].ExecuteTemplate(&buf, "layout", map[string]any{"Title": titles[name], "Nav": items, "Data": data(r)})
		if err != nil {
			s.opts.Logger.Error("rendering admin page", "page", name, "err", err)
			http.Error(w, "rendering page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(buf.Bytes())
	}
}

type explainPageData struct {
	Query      ExplainQuery
	HeaderText string
	Result     *Explanation
	Error      string
}

// explainPage runs the explainer when the form was submitted (a host or
// path is given).
func (s *Server) explainPage(r *http.Request) any {
	v := r.URL.Query()
	d := explainPageData{HeaderText: v.Get("headers")}
	for _, line := range splitLines(d.HeaderText) {
		v.Add("header", line)
	}
	q, err := ParseExplainQuery(v)
	d.Query = q
	if v.Get("host") == "" && v.Get("path") == "" {
		d.Query.Path = ""
		return d
	}
	if err != nil {
		d.Error = err.Error()
		return d
	}
	ex, err := s.explain(q)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	d.Result = &ex
	return d
}

func splitLines(s string) []string {
	var out []string
	for _, l := range bytes.Split([]byte(s), []byte("\n")) {
		if t := string(bytes.TrimSpace(l)); t != "" {
			out = append(out, t)
		}
	}
	return out
}
