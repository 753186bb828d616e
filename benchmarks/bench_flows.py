"""The task flows as `make sim` runs them (face: people 0-4, forget 1, learn 5;
speaker: george..theo, forget jackson, learn yweweler; diffusion: erase 3, style
thick; seed 0; chip check of 20 inputs on Verilator): wall time of each part, the
golden chip's evaluation rate (distinct inputs measured per second, every stage and
baseline), and the cost model's folds (energy figures, not wall time: they do not
vary).

A task whose data is missing ($RMLORA_DATA) reports nothing. The Verilator model is
built before timing (the chip check's first run would build it).
"""

from rmlora.sw.data.fsdd import FSDD_DIR
from rmlora.sw.data.olivetti import OLIVETTI_FILE, data_dir


def _figures(task: str, summary: dict) -> dict:
    seconds, cost = summary["seconds"], summary["cost"]
    measured = sum(summary["inferences"].values())
    return {
        f"{task}_flow_total_s": seconds["total"],
        f"{task}_float_training_s": seconds["float_flow"],
        f"{task}_chip_eval_s": seconds["chip_eval"],
        f"{task}_chip_eval_inputs_per_s": measured / seconds["chip_eval"],
        f"{task}_chip_check_s_per_input": seconds["chip_check"] / summary["chip_check"]["images"],
        f"{task}_training_fold": cost["training_fold"],
        f"{task}_deployment_fold": cost["deployment_fold"],
        f"{task}_deployment_time_fold": cost["deployment_time_fold"],
        f"{task}_inference_energy_fold": cost["inference_energy_fold"],
        f"{task}_hybrid_inference_nj": cost["inference"]["lora"]["hybrid"]["energy_j"] * 1e9,
        f"{task}_targets_met": sum(t["met"] for t in summary["targets"]),
        f"{task}_targets": len(summary["targets"]),
    }


def run() -> dict:
    from rmlora.sw.learn.face import run_face
    from rmlora.sw.learn.speaker import run_speaker
    from rmlora.sw.runtime import Chip

    Chip(backend="verilator").close()  # build (or reuse) the simulator outside the timing
    out = {}
    for task, needs, flow in (("face", OLIVETTI_FILE, run_face),
                              ("speaker", FSDD_DIR, run_speaker)):
        if not (data_dir() / needs).exists():
            print(f"  ({task} skipped: {data_dir() / needs} not found)")
            continue
        out |= _figures(task, flow())
    from rmlora.sw.learn.diffusion_flow import run_diffusion
    summary = run_diffusion()
    seconds, cost = summary["seconds"], summary["cost"]
    samples = 5 * 10 * summary["config"]["samples_per_digit"] * summary["config"]["steps"]
    out |= {
        "diffusion_flow_total_s": seconds["total"],
        "diffusion_float_training_s": seconds["float_training"],
        "diffusion_chip_sampling_s": seconds["chip_sampling"],
        "diffusion_chip_evaluations_per_s": samples / seconds["chip_sampling"],
        "diffusion_chip_check_s_per_input": seconds["chip_check"]
        / summary["chip_check"]["images"],
        "diffusion_inference_energy_fold": cost["inference_energy_fold"],
        "diffusion_targets_met": sum(t["met"] for t in summary["targets"]),
        "diffusion_targets": len(summary["targets"]),
    }
    return out
