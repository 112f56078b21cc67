"""A fund's escrow over time as a small inline SVG, drawn on the server (no script, no library).

The line steps to each day's closing escrow balance; below it, each day's money in (pledges) and
out (withdrawals, settlements, awards) as bars above and below a baseline. Everything the
chart says is also in the table beside it, so the SVG is an image with a text label.
"""

from django.utils.html import format_html, format_html_join

from bounties.money import format_cents

WIDTH, HEIGHT, PAD = 640, 200, 12


def escrow_chart(series, *, width: int = WIDTH, height: int = HEIGHT) -> str:
    """The SVG for `finance.selectors.escrow_series`; "" when the fund's escrow never moved."""
    if not series:
        return ""
    days = len(series)
    top = max(max(d.balance_cents for d in series), max(max(d.in_cents, d.out_cents) for d in series), 1)
    slot = (width - 2 * PAD) / days
    line_height = height * 0.6  # the balance line's band; the flows below it
    flows_mid = line_height + (height - line_height) / 2
    flow_scale = ((height - line_height) / 2 - PAD / 2) / top

    def x(index):
        return PAD + slot * index

    def y(cents):
        return line_height - PAD - (line_height - 2 * PAD) * cents / top

    path = [f"M{x(0):.1f},{y(0):.1f}"]
    for index, day in enumerate(series):
        path.append(f"H{x(index):.1f}V{y(day.balance_cents):.1f}")
    path.append(f"H{width - PAD:.1f}")
    bars = []
    for index, day in enumerate(series):
        bar_w = max(slot * 0.6, 1)
        if day.in_cents:
            h = day.in_cents * flow_scale
            bars.append(
                (
                    "#2e7d32",  # money in: green
                    x(index),
                    flows_mid - h,
                    bar_w,
                    h,
                    f"{day.day}: {format_cents(day.in_cents)} in",
                )
            )
        if day.out_cents:
            h = day.out_cents * flow_scale
            bars.append(
                (
                    "#c62828",  # money out: red
                    x(index),
                    flows_mid,
                    bar_w,
                    h,
                    f"{day.day}: {format_cents(day.out_cents)} out",
                )
            )
    last = series[-1]
    label = (
        f"Escrow over {days} day{'s' if days != 1 else ''} with money moving: "
        f"{format_cents(last.balance_cents)} held at the end of {last.day}"
    )
    return format_html(
        '<svg class="finance-chart" role="img" aria-label="{label}" viewBox="0 0 {w} {h}" width="100%" '
        'style="max-width: 40rem; font-size: 11px" xmlns="http://www.w3.org/2000/svg">'
        '<text x="{pad}" y="{top_y}" fill="currentColor">{top}</text>'
        '<text x="{pad}" y="{h}" fill="currentColor">{first}</text>'
        '<text x="{right}" y="{h}" fill="currentColor" text-anchor="end">{last_day}</text>'
        '<line x1="{pad}" x2="{right}" y1="{mid}" y2="{mid}" stroke="currentColor" stroke-opacity="0.3"/>'
        '<path d="{path}" fill="none" stroke="currentColor" stroke-width="2"/>{bars}</svg>',
        label=label,
        w=width,
        h=height,
        pad=PAD,
        right=width - PAD,
        mid=f"{flows_mid:.1f}",
        top_y=PAD + 4,
        top=format_cents(top),
        first=str(series[0].day),
        last_day=str(last.day),
        path="".join(path),
        bars=format_html_join(
            "",
            '<rect fill="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
            ((fill, *(f"{n:.1f}" for n in box), title) for fill, *box, title in bars),
        ),
    )
