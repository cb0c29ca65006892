"""`{% load charts %}{% live_charts live %}`: the live page's charts, drawn by web/charts.js."""
from django import template

from liveloop.web.charts import live_charts as build_charts

register = template.Library()


@register.inclusion_tag("web/_live_charts.html")
def live_charts(live, summary=None):
    """Pass the page's `summary` (live_summary) as a second argument to save the funnel's query."""
    return {"live": live, "charts": build_charts(live, summary)}
