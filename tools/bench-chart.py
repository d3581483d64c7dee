#!/usr/bin/env python3
"""Turns `vmm-swap bench --json` output into Markdown tables and a PNG chart of the ratios by size.

    python3 tools/bench-chart.py bench.json docs/bench-ratios.png > tables.md

The PNG needs matplotlib; without it the tables are still printed and the chart is skipped.
"""
import json
import sys


def fmt(x):
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.2f}"


def tables(report):
    out = []
    # A run with --only has no per-size results: only its own section and targets.
    sized = bool(report["results"])
    if sized:
        out.append("### Fault latency, us (median over rounds; ours / native_ref)\n")
        # Reports from before the bench's --fault-poll-max say nothing of the window.
        if "fault_poll_max_us" in report:
            poll = report["fault_poll_max_us"]
            out.append(f"Runtime fault-poll-max: {poll} us{' (polling off)' if poll == 0 else ''}.\n")
        out.append("| size MiB | source | order | faults | p50 ours | p50 native | p50 ratio | p99 ours | p99 native | p99 ratio | max ours | max native |")
        out.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in report["results"]:
            for f in r["faults"]:
                o, n = f["ours"], f["native"]
                out.append(f"| {r['size_mib']} | {f['source']} | {f['order']} | {o['faults']} | {fmt(o['p50_us'])} | {fmt(n['p50_us'])} | {f['p50_ratio']:.2f}x | "
                           f"{fmt(o['p99_us'])} | {fmt(n['p99_us'])} | {f['p99_ratio']:.2f}x | {fmt(o['max_us'])} | {fmt(n['max_us'])} |")
        cpu = [r for r in report["results"] if "fault_thread_cpu" in r]
        if cpu:
            out.append("\n### Fault thread CPU, ms per second of guest time (median over rounds)\n")
            out.append("faulting: over the fault blocks above; idle: the guest touching nothing right after them.\n")
            out.append("| size MiB | fault-poll-max us | faulting | idle |")
            out.append("|---:|---:|---:|---:|")
            for r in cpu:
                c = r["fault_thread_cpu"]
                out.append(f"| {r['size_mib']} | {report.get('fault_poll_max_us', '')} | {fmt(c['faulting_ms_per_s'])} | {fmt(c['idle_ms_per_s'])} |")
    multi = report.get("multi_thread_faults", [])
    if multi:
        out.append("\n### File faults from several guest threads at once, us (median over rounds; ours / native_ref)\n")
        out.append("native 1: one uffd and handler thread; native N: one uffd and handler thread per guest thread's share.\n")
        out.append("| size MiB | threads | order | faults | p50 ours | p50 native 1 | ratio | p50 native N | ratio | p99 ours | p99 native 1 | ratio | p99 native N | ratio | pages/s ours | native 1 | native N |")
        out.append("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in multi:
            for c in r["cases"]:
                o, n1, nn = c["ours"], c["native_one_uffd"], c["native_uffd_per_thread"]
                out.append(f"| {r['size_mib']} | {c['threads']} | {c['order']} | {o['faults']} | {fmt(o['p50_us'])} | {fmt(n1['p50_us'])} | {c['p50_vs_one_uffd']:.2f}x | "
                           f"{fmt(nn['p50_us'])} | {c['p50_vs_uffd_per_thread']:.2f}x | {fmt(o['p99_us'])} | {fmt(n1['p99_us'])} | {c['p99_vs_one_uffd']:.2f}x | "
                           f"{fmt(nn['p99_us'])} | {c['p99_vs_uffd_per_thread']:.2f}x | {o['pages_per_s']:.0f} | {n1['pages_per_s']:.0f} | {nn['pages_per_s']:.0f} |")
    if sized:
        out.append("\n### Throughput (ours / native_ref)\n")
        out.append("| size MiB | enable GiB/s | native | ratio | swap-out GiB/s | pwrite | ratio | pwrite+flush | ratio | swap-in GiB/s | native | ratio | trim pages/s | trimmed / staged |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in report["results"]:
            e, o, i, t = r["enable"], r["swap_out"], r["swap_in"], r["trim"]
            out.append(f"| {r['size_mib']} | {e['ours_gib_per_s']:.2f} | {e['native_gib_per_s']:.2f} | {e['ratio']:.2f}x | {o['ours_gib_per_s']:.2f} | {o['native_gib_per_s']:.2f} | {o['ratio']:.2f}x | "
                       f"{o['native_flushed_gib_per_s']:.2f} | {o['flushed_ratio']:.2f}x | "
                       f"{i['ours_gib_per_s']:.2f} | {i['native_gib_per_s']:.2f} | {i['ratio']:.2f}x | {t['pages_per_s']:.0f} | {t['dropped_pages']} / {t['staged_pages']} |")
        # Reports from before the limit references have no "limits".
        limits = report.get("limits", [])
        if limits:
            out.append("\n### Limits: ours / the fastest this machine does the same move (GiB/s, median over rounds)\n")
            out.append("| size MiB | enable | limit | ratio | pause ms | swap-out | limit | ratio | swap-in | limit | ratio | disk pread | swap-in / disk |")
            out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for l in limits:
                e, o, i = l["enable"], l["swap_out"], l["swap_in"]
                out.append(f"| {l['size_mib']} | {e['ours_gib_per_s']:.2f} | {e['limit_gib_per_s']:.2f} | {e['ratio']:.2f}x | {fmt(l['enable_pause_ms'])} | "
                           f"{o['ours_gib_per_s']:.2f} | {o['limit_gib_per_s']:.2f} | {o['ratio']:.2f}x | {i['ours_gib_per_s']:.2f} | {i['limit_gib_per_s']:.2f} | {i['ratio']:.2f}x | "
                           f"{l['disk_read_gib_per_s']:.2f} | {l['swap_in_vs_disk']:.2f}x |")
            out.append(f"\npause ms: Enable of a {limits[-1]['pause_guest_mib'] // 1024} GiB guest at our measured Enable rate (the guest is paused throughout).")
            pause = [n for n in report.get("notes", []) if n.startswith("enable pause:")]
            if pause:
                out.append(f"\n{pause[0]}")
        out.append("\n### Fault p99 during jobs (random order), us\n")
        out.append("| size MiB | job guest MiB | idle staging | during trim | ratio | during swap-out | ratio | idle file | during swap-in | ratio | faults trim/out/in |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in report["results"]:
            d = r["during_jobs"]
            out.append(f"| {r['size_mib']} | {d['guest_mib']} | {fmt(d['idle_staging']['p99_us'])} | {fmt(d['trim']['during']['p99_us'])} | {d['trim']['p99_vs_idle']:.2f}x | "
                       f"{fmt(d['swap_out']['during']['p99_us'])} | {d['swap_out']['p99_vs_idle']:.2f}x | {fmt(d['idle_file']['p99_us'])} | {fmt(d['swap_in']['during']['p99_us'])} | "
                       f"{d['swap_in']['p99_vs_idle']:.2f}x | {d['trim']['during']['faults']}/{d['swap_out']['during']['faults']}/{d['swap_in']['during']['faults']} |")
        out.append("\n### Working set after Disable (touch time ms / touches that faulted)\n")
        out.append("| size MiB | guest MiB | working set pages | never swapped | sequential swap-in | working set first | faults cut | touch / never | prefetched | faults cut | touch / never | prefetch ms |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in report["results"]:
            w = r["working_set"]
            case = lambda c: f"{fmt(c['touch_ms'])} / {c['faults']}"
            out.append(f"| {r['size_mib']} | {w['guest_mib']} | {w['working_set_pages']} | {case(w['never_swapped'])} | {case(w['sequential'])} | {case(w['working_set_first'])} | "
                       f"{100 * w['faults_cut']:.0f}% | {w['touch_vs_never_swapped']:.2f}x | {case(w['prefetched'])} | {100 * w['prefetched_faults_cut']:.0f}% | "
                       f"{w['prefetched_touch_vs_never_swapped']:.2f}x | {fmt(w['prefetch_ms'])} |")
        out.append("\n### Memory\n")
        out.append("| size MiB | managed heap KiB/GiB | RssAnon KiB/GiB | VmRSS before MiB | VmRSS at Active MiB | host before MiB | host at Active MiB | released | swap page cache MiB |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        mib = 1 << 20
        for r in report["results"]:
            m = r["memory"]
            out.append(f"| {r['size_mib']} | {m['heap_bytes_per_gib'] / 1024:.0f} | {m['rss_anon_bytes_per_gib'] / 1024:.0f} | {m['vm_rss_before_bytes'] / mib:.0f} | {m['vm_rss_active_bytes'] / mib:.0f} | "
                       f"{m['host_before_bytes'] / mib:.0f} | {m['host_active_bytes'] / mib:.0f} | {100 * m['host_released_fraction']:.1f}% | {m['swap_page_cache_bytes'] / mib:.0f} |")
        sizes = report["sizes_mib"]
        out.append(f"\n### Growth from {sizes[0]} to {sizes[-1]} MiB (largest / smallest)\n")
        out.append("| figure | smallest | largest | ratio |")
        out.append("|---|---:|---:|---:|")
        for g in report["growth"]:
            out.append(f"| {g['figure']} | {fmt(g['smallest'])} | {fmt(g['largest'])} | {g['ratio']:.2f}x |")
    out.append("\n### Targets (reported, not asserted)\n")
    out.append("| target | want | size MiB | value | verdict |")
    out.append("|---|---|---:|---:|---|")
    for t in report["targets"]:
        out.append(f"| {t['name']} | {t['target']} | {t['size_mib']} | {t['value']:.2f} | {'met' if t['met'] else '**missed**'} |")
    return "\n".join(out)


def chart(report, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: chart skipped", file=sys.stderr)
        return False
    sizes = [r["size_mib"] for r in report["results"]]
    series = {}
    for r in report["results"]:
        for f in r["faults"]:
            series.setdefault(f"fault {f['source']}/{f['order']} p50", []).append(f["p50_ratio"])
        series.setdefault("enable", []).append(r["enable"]["ratio"])
        series.setdefault("swap-out / pwrite", []).append(r["swap_out"]["ratio"])
        series.setdefault("swap-out / pwrite+flush", []).append(r["swap_out"]["flushed_ratio"])
        series.setdefault("swap-in", []).append(r["swap_in"]["ratio"])
    for l in report.get("limits", []):
        series.setdefault("enable / limit", []).append(l["enable"]["ratio"])
        series.setdefault("swap-out / limit", []).append(l["swap_out"]["ratio"])
        series.setdefault("swap-in / limit", []).append(l["swap_in"]["ratio"])
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / len(sizes)
    names = list(series)
    for i, size in enumerate(sizes):
        ax.bar([x + i * width for x in range(len(names))], [series[n][i] for n in names], width, label=f"{size} MiB")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks([x + width * (len(sizes) - 1) / 2 for x in range(len(names))])
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("ours / native_ref")
    ax.set_title("vmm-swap bench: ratios against the native reference by guest size (fault: lower is better; throughput: higher is better)", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main():
    report = json.load(open(sys.argv[1]))
    print(tables(report))
    if len(sys.argv) > 2:
        chart(report, sys.argv[2])


if __name__ == "__main__":
    main()
