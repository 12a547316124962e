"""Rendering the validation report (验证报告) as one self-contained HTML file.

Plots are PNGs from matplotlib's Agg backend embedded as base64, so the file opens offline on a
bank intranet. Plot labels are English (a CJK font may be missing); the HTML text is bilingual.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from jinja2 import Environment, select_autoescape

_TEMPLATE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<title>模型验证报告 · {{ m.name }} v{{ m.version }}</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}th{background:#eee}
td.l{text-align:left}img{max-width:100%}h2{border-bottom:2px solid #446;margin-top:2em}
.flag{color:#b00}
</style></head><body>
<h1>模型验证报告 · Validation report: {{ m.name }} v{{ m.version }} ({{ m.kind }})</h1>
<p>目标 target <b>{{ m.target }}</b> · 训练人 trained by {{ m.trained_by }}
· 训练时间 trained at {{ m.trained_at }}
· 数据窗口 data window {{ m.data_window[0] or "–" }} – {{ m.data_window[1] or "–" }}
· 特征数 features {{ m.features|length }}</p>
{% if m.training %}<h2>训练样本 · Training data</h2>
<table>{% for k in ["target", "rows", "event", "horizon_months", "count", "events",
"as_of_first", "as_of_last", "as_of_dates", "lake_last_month"] if k in m.training %}
<tr><th>{{ k }}</th><td class="l">{{ fmt(m.training[k]) }}</td></tr>{% endfor %}</table>
<ul>{% for note in m.training.get("notes", []) %}<li>{{ note }}</li>{% endfor %}</ul>
{% endif %}{% if m.descriptions %}<h2>特征说明 · Features</h2>
<table><tr><th>特征 feature</th><th>说明</th><th>description</th></tr>
{% for f, d in m.descriptions.items() %}<tr><td class="l">{{ f }}</td><td class="l">{{ d[0] }}</td>
<td class="l">{{ d[1] }}</td></tr>{% endfor %}</table>{% endif %}
<h2>区分度 · Discrimination</h2>
<table><tr><th>样本 split</th><th>数量 count</th><th>坏账率 bad rate</th>
<th>AUC</th><th>Gini</th><th>KS</th></tr>
{% for name, s in splits.items() %}<tr><td class="l">{{ name }}</td><td>{{ s.count }}</td>
<td>{{ "%.4f"|format(s.bad_rate) }}</td><td>{{ fmt(s.auc) }}</td><td>{{ fmt(s.gini) }}</td>
<td>{{ fmt(s.ks) }}</td></tr>{% endfor %}</table>
<img alt="gains and score distribution" src="data:image/png;base64,{{ plots.overview }}">
<h2>分组提升 · Gains and lift by decile ({{ focus }})</h2>
<table><tr><th>组 band</th><th>数量</th><th>坏</th><th>坏账率</th>
<th>累计坏占比 cum. bad share</th><th>提升 lift</th><th>累计提升 cum. lift</th></tr>
{% for r in splits[focus].gains %}<tr><td>{{ r.band }}</td><td>{{ r.count }}</td>
<td>{{ r.bads }}</td><td>{{ "%.4f"|format(r.bad_rate) }}</td>
<td>{{ "%.3f"|format(r.cumulative_bad_share) }}</td><td>{{ "%.2f"|format(r.lift) }}</td>
<td>{{ "%.2f"|format(r.cumulative_lift) }}</td></tr>{% endfor %}</table>
<h2>校准 · Calibration ({{ focus }})</h2>
<img alt="calibration" src="data:image/png;base64,{{ plots.calibration }}">
<table><tr><th>组 band</th><th>数量</th><th>预测PD mean predicted</th>
<th>实际坏账率 observed</th></tr>
{% for r in splits[focus].calibration %}<tr><td>{{ r.band }}</td><td>{{ r.count }}</td>
<td>{{ "%.4f"|format(r.mean_predicted) }}</td><td>{{ "%.4f"|format(r.observed_rate) }}</td>
</tr>{% endfor %}</table>
{% if stability.get("score_psi") is not none %}
<h2>稳定性 · Stability (PSI, {{ stability.recent_split }} vs development)</h2>
<p>分数PSI score PSI:
<b class="{{ 'flag' if stability.score_psi > 0.25 else '' }}">{{ fmt(stability.score_psi) }}</b>
(&lt;0.1 稳定 stable, 0.1–0.25 关注 watch, &gt;0.25 显著偏移 shifted)</p>
<table><tr><th>特征 feature</th><th>PSI</th></tr>
{% for f, v in stability.feature_psi.items()|sort(attribute=1, reverse=True) %}
<tr><td class="l">{{ f }}</td><td class="{{ 'flag' if v > 0.25 else '' }}">{{ fmt(v) }}</td></tr>
{% endfor %}</table>
{% else %}
<h2>稳定性 · Stability</h2>
<p class="flag" id="no-stability">无验证/跨时间样本，未测算稳定性 ·
No out-of-time rows: stability not measured. 评估数据只有开发样本，上文区分度与校准均为样本内结果 ·
The evaluation holds development rows only, so the discrimination and calibration above are
in-sample.</p>
{% endif %}
<h2>信息值 · Information value</h2>
<table><tr><th>特征 feature</th><th>IV</th></tr>{% for f, v in iv.items() %}
<tr><td class="l">{{ f }}</td><td>{{ fmt(v) }}</td></tr>{% endfor %}</table>
{% for title, rows in tables.items() %}
<h2>{{ "评分卡 · Scorecard table" if title == "scorecard" else "加性评分表 · Points table" }}</h2>
<table><tr>{% for k in rows[0].keys() %}<th>{{ k }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for v in r.values() %}<td class="l">{{ fmt(v) }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endfor %}
<h2>数据 · Numbers (JSON)</h2>
<details><summary>展开 show</summary><pre>{{ numbers_json }}</pre></details>
</body></html>
"""


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _plots(numbers: dict[str, Any], focus: str) -> dict[str, str]:
    figure, (gains_axis, hist_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for name, split in numbers["splits"].items():
        population = [0.0] + [r["cumulative_population_share"] for r in split["gains"]]
        captured = [0.0] + [r["cumulative_bad_share"] for r in split["gains"]]
        gains_axis.plot(population, captured, marker="o", label=f"{name} (AUC {split['auc']:.3f})")
        histogram = split["score_histogram"]
        total = max(sum(histogram["counts"]), 1)
        hist_axis.step(
            histogram["edges"][:-1],
            [c / total for c in histogram["counts"]],
            where="post",
            label=name,
        )
    gains_axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    gains_axis.set(
        title="Cumulative gains",
        xlabel="share of population (riskiest first)",
        ylabel="share of bads captured",
    )
    gains_axis.legend()
    hist_axis.set(title="Predicted PD distribution", xlabel="predicted PD", ylabel="share of rows")
    hist_axis.legend()
    overview = _png(figure)
    figure, axis = plt.subplots(figsize=(5, 4))
    calibration = numbers["splits"][focus]["calibration"]
    axis.plot(
        [r["mean_predicted"] for r in calibration],
        [r["observed_rate"] for r in calibration],
        marker="o",
    )
    top = max(
        [r["mean_predicted"] for r in calibration]
        + [r["observed_rate"] for r in calibration]
        + [0.01]
    )
    axis.plot([0, top], [0, top], color="grey", linestyle=":")
    axis.set(title=f"Calibration ({focus})", xlabel="mean predicted PD", ylabel="observed bad rate")
    return {"overview": overview, "calibration": _png(figure)}


def render_report(numbers: dict[str, Any]) -> str:
    """The HTML report for ``validation_numbers``' output."""
    focus = numbers["stability"].get("recent_split") or next(iter(numbers["splits"]))
    environment = Environment(autoescape=select_autoescape(default=True))
    template = environment.from_string(_TEMPLATE)
    return template.render(
        m=numbers["model"],
        splits=numbers["splits"],
        stability=numbers["stability"],
        iv=numbers["iv"],
        tables=numbers["tables"],
        focus=focus,
        plots=_plots(numbers, focus),
        fmt=_fmt,
        numbers_json=json.dumps(numbers, ensure_ascii=False, indent=1, default=str),
    )
