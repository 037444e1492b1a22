"""The fail gate every scenario shares: the run exits non-zero when the failure ratio or the
95th percentile passes its bound.

    --max-fail-ratio 0.01   (default 1 %)
    --max-p95-ms 500        (default 500 ms)

Import this module in a locustfile to add both options and the check at the end of a run.
"""

from __future__ import annotations

import logging

from locust import events

log = logging.getLogger(__name__)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--max-fail-ratio", type=float, default=0.01, env_var="VEXE_MAX_FAIL_RATIO",
                        help="Fail the run above this share of failed requests.")
    parser.add_argument("--max-p95-ms", type=float, default=500.0, env_var="VEXE_MAX_P95_MS",
                        help="Fail the run when the 95th percentile is above this.")


@events.quitting.add_listener
def _gate(environment, **_kwargs) -> None:
    total = environment.stats.total
    options = environment.parsed_options
    if options is None or total.num_requests == 0:
        return
    p95 = total.get_response_time_percentile(0.95) or 0
    problems = []
    if total.fail_ratio > options.max_fail_ratio:
        problems.append(f"failure ratio {total.fail_ratio:.2%} > {options.max_fail_ratio:.2%}")
    if p95 > options.max_p95_ms:
        problems.append(f"p95 {p95:.0f} ms > {options.max_p95_ms:.0f} ms")
    if problems:
        log.error("fail gate: %s", "; ".join(problems))
        environment.process_exit_code = 1
    else:
        log.info("fail gate passed: %d requests, failure ratio %.2f%%, p95 %.0f ms",
                 total.num_requests, 100 * total.fail_ratio, p95)
