"""On real families the engine reaches at least as low an objective as a dense 4^5-start SciPy reference.

The reference (:func:`scalinglaw.fitting.reference.multistart`) polishes every point of ColPret's
1,024-start grid; it takes seconds per fit, so the curves are thinned here. The benchmark
(``benchmarks/bench_engine.py``) runs the same comparison on the whole paper grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaw as sl
from scalinglaw import protocol
from scalinglaw.fitting.objectives import get_objective
from scalinglaw.fitting.reference import multistart
from scalinglaw.laws import MUENNIGHOFF_2024, get_law

TOLERANCE = 1e-9  # relative: ours <= reference * (1 + TOLERANCE)
BORROWED = {"A": MUENNIGHOFF_2024["A"], "alpha": MUENNIGHOFF_2024["alpha"]}


def _subset(name, k, percentage, thin, sources):
    runs = protocol.Runs(sl.load_family(name, sources=sources))
    cut = 0 if name == "chinchilla" else protocol.EARLY_CUT
    mask = runs.training(runs.candidates(runs.target())[:k], percentage=percentage, cut=cut)
    return runs.table[mask].iloc[::thin]


CASES = [
    ("gpt3", 2, 0.5, 8, "lsq", None),
    ("gpt3", 7, 1.0, 16, "huber_log", None),
    ("gpt3", 4, 0.5, 8, "lsq", BORROWED),
    ("chinchilla", 42, 1.0, 2, "huber_log", None),
    ("chinchilla", 10, 1.0, 1, "lsq", BORROWED),
    ("gpt2-c4-1", 2, 1.0, 6, "huber_log", BORROWED),
    ("gpt2-oscar-14", 2, 0.5, 4, "lsq", None),
    # the Huber optimum lies in the basin of the second-best start (the best one alone misses it by 0.09 %)
    ("pythia-v0", 6, 0.9, 2, "huber_log", None),
    # one model size, most log residuals past delta: exact Newton steps stalled 1.8 % above the optimum
    ("pythia-baseline-deduped", 2, 0.9, 1, "huber_log", None),
    # 11 points, one an outlier: both surrogates' profiles fall to beta's bound while the Huber objective's
    # lowest basin is at beta = 0.38; only the grid scored by the Huber objective itself shows it (the
    # engine stopped 0.4 % above the reference before; it is now 0.03 % below it)
    ("overtrain-c4", 32, 0.8, 1, "huber_log", BORROWED),
    # two sizes, E on its bound: the Huber optimum has alpha on its bound, at the end of a valley curved in
    # both A and ln A; Newton steps crawled along it for 1,789 steps, past the step cap, until a crawl
    # probed the bound it headed for
    ("pythia", 2, 0.4, 1, "huber_log", None),
]


def _objective_at(params, runs, objective, law="chinchilla"):
    """The objective of ``law`` with ``params`` on ``runs`` (a reference solution's bar)."""
    pred = get_law(law).predict(params, n_params=runs["n_params"], n_tokens=runs["n_tokens"])
    return get_objective(objective).value(pred, runs["loss"].to_numpy(), np.ones(len(runs)))


def _fit_and_bar(points, reference, objective, fixed=None):
    """The engine's fit of literal (n_params, n_tokens, loss) points, and the objective the reference's
    solution reaches on them (the bar the fit must clear)."""
    runs = pd.DataFrame(points, columns=["n_params", "n_tokens", "loss"])
    return sl.fit(runs, objective=objective, fixed=fixed), _objective_at(reference, runs, objective)


@pytest.mark.slow
@pytest.mark.parametrize(("family", "k", "percentage", "thin", "objective", "fixed"), CASES)
def test_at_least_as_low_as_the_multistart_reference(
    sources_root, family, k, percentage, thin, objective, fixed
):
    runs = _subset(family, k, percentage, thin, sources_root)
    fit = sl.fit(runs, objective=objective, fixed=fixed)
    _, best = multistart(runs, objective=objective, fixed=fixed)
    assert fit.success
    assert fit.value <= best * (1 + TOLERANCE)


def test_huber_converges_on_two_model_sizes(sources_root):
    """With two sizes, E + A / N^alpha is two levels: the Huber optimum of OPT's smallest pair lies far
    along a valley where A makes up for alpha (E at its bound), curved in A but straight in ln A. Every
    fit of the paper's grid on the pair converges (steps in A itself crawled past the step cap on some)."""
    runs = protocol.Runs(sl.load_family("opt", sources=sources_root))
    pair = runs.candidates(runs.target())[:2]
    masks = [runs.training(pair, percentage=p) for p in protocol.PERCENTAGES]
    fits = sl.fit_many(runs.table, subsets=masks, objective="huber_log")
    assert [f.status for f in fits] == ["ok"] * len(masks)


def test_kaplans_form_converges_where_an_exponent_ends_on_its_bound(sources_root):
    """Kaplan's form on GPT-3's four smallest models (first 10 % of each run): the optimum has alpha_D on
    its bound (5). The multi-start polish clipped its steps at the bound, crawled along it and stopped at
    its step cap, `failed`; a parameter the gradient pushes out of the box now sits the step out. The
    reference is a 400-start scipy ``least_squares`` (trf) run, its best point's objective."""
    runs = protocol.Runs(sl.load_family("gpt3", sources=sources_root))
    mask = runs.training(runs.candidates(runs.target())[:4], percentage=0.1, cut=protocol.EARLY_CUT)
    table = runs.table[mask]
    reference = {"N_c": 5822166537967945.0, "D_c": 1064904268.7850521}
    reference |= {"alpha_N": 0.05146934712139492, "alpha_D": 4.999999999989739}
    best = _objective_at(reference, table, "lsq", law="kaplan")
    fit = sl.fit(table, law="kaplan")
    assert fit.success and fit.at_bound == ("alpha_D",)
    assert fit.value <= best * (1 + TOLERANCE)


def test_kaplans_form_follows_a_curved_valley_to_its_end(sources_root):
    """Kaplan's form on six points of overtrain-c4 (26 smallest models, first 60 % of each run): N_c and
    alpha_N trade along a valley curved in the solver's coordinates, and plain Levenberg-Marquardt steps
    took about 3,000 to cross it (`failed` at the 1,000-step cap). Jobs still running after 100 steps take
    geodesic acceleration: the fit converges within 1e-8 of a 400-start scipy ``least_squares`` run (it
    stops 6.7e-9 above, where the valley has all but flattened)."""
    runs = protocol.Runs(sl.load_family("overtrain-c4", sources=sources_root))
    table = runs.table[runs.training(runs.candidates(runs.target())[:26], percentage=0.6)]
    reference = {"N_c": 388659209.79038775, "D_c": 6.822734470636597e36}
    reference |= {"alpha_N": 0.9028095529788086, "alpha_D": 0.022084465364200882}
    best = _objective_at(reference, table, "lsq", law="kaplan")
    fit = sl.fit(table, law="kaplan")
    assert fit.success
    assert fit.value <= best * (1 + 1e-8)


def test_a_huber_basin_the_surrogates_rank_low_is_found():
    """Eight random points (two sizes, the fourth of the first an outlier, most log residuals past delta):
    the least-squares surrogates' best basins have beta on its bound, while the Huber objective's lowest
    has beta = 0.33, where its grid scores 10 % above them. The 4^5 reference found it (in 100 s); the
    engine must reach at least as low an objective as the reference's solution has."""
    n1, n2 = 10410192.014624897, 8278508171.253001
    runs = pd.DataFrame(
        [
            (n1, 104994719.99039014, 76.07031750776201),
            (n1, 157492079.9855852, 71.00552500063561),
            (n1, 209989439.98078027, 68.58887708324558),
            (n1, 262486799.97597533, 73.10846226594948),
            (n2, 83495063891.01746, 19.385663872864573),
            (n2, 125242595836.52617, 18.135540983839064),
            (n2, 166990127782.0349, 18.62091662595628),
            (n2, 208737659727.54364, 18.314131149337694),
        ],
        columns=["n_params", "n_tokens", "loss"],
    )
    reference = {"E": 14.662981529973496, "A": 179749.00183780584, "alpha": 0.5495647188969042}
    reference |= {"B": 15398.592019225141, "beta": 0.32751350580459543}
    best = _objective_at(reference, runs, "huber_log")
    fit = sl.fit(runs, objective="huber_log")
    assert fit.success and "beta" not in fit.at_bound
    assert fit.value <= best * (1 + TOLERANCE)


def test_a_near_l1_valley_is_followed_to_its_bottom():
    """Eighteen noisy points on three sizes that barely move the loss, with (B, beta) held: most log
    residuals are past delta, so the Huber objective is nearly piecewise linear, and it falls (by 1e-7,
    relative) all the way to alpha's bound. Exact Newton steps there cross kinks and fail; the damping that
    makes them succeed made them tiny, and the polish stopped 1.9e-8 above the 4^5 reference's solution.
    Steps that minimise the linearised objective, kinks and all, reach the bottom, below the reference."""
    n1, n2, n3 = 11027392.417010171, 420873955.28243935, 5120247961.885795
    points = [
        (n1, 301067731.62327987, 1.5474549205989456),
        (n1, 324226787.9019937, 1.554226457158923),
        (n1, 347385844.1807075, 1.5380282020923035),
        (n1, 370544900.4594214, 1.5536779036373587),
        (n1, 393703956.7381352, 1.534363111335816),
        (n1, 416863013.01684904, 1.623676211889485),
        (n2, 11490619198.49196, 1.5227279354691348),
        (n2, 12374512982.991343, 1.4319877294448193),
        (n2, 13258406767.490725, 1.5211167251800037),
        (n2, 14142300551.990105, 1.4898135305654396),
        (n2, 15026194336.489487, 1.541671638263457),
        (n2, 15910088120.988869, 1.4705920370896168),
        (n3, 139792017998.36124, 1.5086159273938806),
        (n3, 150545250152.08136, 1.496287364057299),
        (n3, 161298482305.80142, 1.582886711338113),
        (n3, 172051714459.52155, 1.4827158857240257),
        (n3, 182804946613.24164, 1.457223931346406),
        (n3, 193558178766.96173, 1.5473419657247285),
    ]
    held = {"B": 40.96400179317635, "beta": 0.5788913389930017}
    reference = {"E": 1.498476855302668, "A": 156813.48627291512, "alpha": 0.9186369624404108} | held
    fit, best = _fit_and_bar(points, reference, "huber_log", held)
    assert fit.success and fit.params["alpha"] > 4.99  # (the bottom is on alpha's bound, 5)
    assert fit.value <= best * (1 - 1e-8)


def test_an_outlier_that_holds_a_coefficient_on_its_bound_everywhere_is_overcome():
    """Twenty flat, noisy points on four sizes, the last (most tokens) 12 % high. The outlier makes both
    least-squares surrogates keep A = B = 0 in every cell of their grids, and the Huber polish stopped at
    that saddle (where the exponents do nothing), 0.06 % above the 4^5 reference. Scored with
    coefficients reweighted by one IRLS step, the grid has B > 0; the engine must reach at least as low an
    objective as the reference's solution has."""
    n1, n2, n3, n4 = 10526307.311845254, 32902078.18036116, 118775507.02147372, 8077161183.19662
    points = [
        (n1, 538509960.1711103, 2.9874497755288734),
        (n1, 807764940.2566653, 2.9973160149695204),
        (n1, 1077019920.3422205, 2.9848386299669882),
        (n1, 1346274900.4277756, 2.9863028786061903),
        (n1, 1615529880.5133307, 2.9820790314278596),
        (n2, 1683220552.6162882, 2.9846937227492707),
        (n2, 2524830828.9244323, 2.9846274226609775),
        (n2, 3366441105.2325764, 2.9783633091840866),
        (n2, 4208051381.5407205, 2.9949957630368678),
        (n2, 5049661657.848865, 2.986780432225184),
        (n3, 6076375281.525463, 2.977755655283854),
        (n3, 9114562922.288195, 2.9764770696166694),
        (n3, 12152750563.050926, 2.987825287355586),
        (n3, 15190938203.813658, 2.9784932100110537),
        (n3, 18229125844.57639, 2.9937209679472585),
        (n4, 413215348763.7786, 2.9852183733161053),
        (n4, 619823023145.668, 2.9902867139993856),
        (n4, 826430697527.5573, 2.9819136196969795),
        (n4, 1033038371909.4467, 2.9879542357716837),
        (n4, 1239646046291.336, 3.3631201808692954),
    ]
    reference = {"E": 2.98547738882139, "A": 19.335420909870127, "alpha": 1.0952091822565342}
    reference |= {"B": 179013.31776178212, "beta": 0.9332504599325573}
    fit, best = _fit_and_bar(points, reference, "huber_log")
    assert fit.success and fit.params["B"] > 0
    assert fit.value <= best * (1 + TOLERANCE)


def test_a_huber_term_that_fits_the_smallest_model_only_is_found():
    """Four points on four sizes, beta held, the third 14 % high. The Huber optimum has a steep A / N^alpha
    (alpha on its bound, 5) that only the smallest model feels; both least-squares surrogates, and the
    grid scored exactly, left A = 0, and the fit ended 0.26 % above the 4^5 reference with no A term. A
    fit whose best job has a term absent scans that term's exponent, with coefficients reweighted at the
    job."""
    points = [
        (17643864.777774297, 159946122.68097007, 3.0103142763692965),
        (216619384.71119037, 1963709828.7976646, 2.977411704718864),
        (3858725518.966447, 34980328461.04441, 3.398761497015981),
        (5711918874.5338545, 51779997668.12923, 2.982935291277201),
    ]
    beta = 1.23619043410805
    reference = {"E": 2.982910241076074, "A": 10821761167101.064, "alpha": 2.0142561534834185}
    reference |= {"B": 8103.173174060986, "beta": beta}
    fit, best = _fit_and_bar(points, reference, "huber_log", {"beta": beta})
    assert fit.success and fit.params["A"] > 0
    assert fit.value <= best * (1 + TOLERANCE)


def test_a_huber_term_left_constant_on_its_exponents_bound_is_tried_steep():
    """Twelve points on three sizes, the last of the middle size 14 % low. The fit ended with alpha = 0,
    its term a constant E absorbs, 1.0 % above the 4^5 reference (alpha 1.7). Alpha's scan from there
    finds the steep term (alpha on its bound, 5) that fits the smallest model."""
    n1, n2, n3 = 13656735.685061181, 145027236.0280286, 2963803869.4293156
    points = [
        (n1, 1467974392.283426, 2.734662662718747),
        (n1, 1590305591.6403782, 2.7352000086901094),
        (n1, 1712636790.9973304, 2.7323341080872936),
        (n1, 1834967990.3542826, 2.73439265784983),
        (n2, 15589103690.838293, 2.6922683119951234),
        (n2, 16888195665.074818, 2.6944372125205),
        (n2, 18187287639.311344, 2.6925826922323126),
        (n2, 19486379613.547867, 2.3141743312809644),
        (n3, 318581854727.7006, 2.6856276466145643),
        (n3, 345130342621.6757, 2.6850347241505146),
        (n3, 371678830515.6507, 2.6851613793466296),
        (n3, 398227318409.6258, 2.683794760506523),
    ]
    reference = {"E": 2.682650240969189, "A": 60238217472.446045, "alpha": 1.7348021134608909}
    reference |= {"B": 414.8364539789992, "beta": 0.4555356127074787}
    fit, best = _fit_and_bar(points, reference, "huber_log")
    assert fit.success and fit.params["alpha"] > 1
    assert fit.value <= best * (1 + TOLERANCE)


def test_a_huber_fit_with_a_term_absent_and_its_exponent_held_scans_the_other_exponent():
    """Eight points on four sizes, alpha held, one 12 % low. The fit ended with A = 0 and a steep B term
    (beta 1.5), 2.4e-4 above the 4^5 reference, whose B term is a near-constant (beta 0.0016). With alpha
    held, the absent term's own exponent cannot be scanned; beta's scan finds the near-constant basin."""
    n1, n2, n3, n4 = 72417162.52807297, 105044217.72551142, 3435642231.81001, 3881900786.0612483
    points = [
        (n1, 6380397121.72709, 2.9151866197741976),
        (n1, 12760794243.45418, 2.5536403013085924),
        (n2, 9255041222.722725, 2.9173473140458213),
        (n2, 18510082445.44545, 2.91558808680721),
        (n3, 302701197366.3964, 2.916866711910987),
        (n3, 605402394732.7928, 2.9110931225560845),
        (n4, 342019318868.1456, 2.9151989373544254),
        (n4, 684038637736.2913, 2.914074225770375),
    ]
    alpha = 0.9348214142699451
    reference = {"E": 2.7290312052038406, "A": 20.085372762230904, "alpha": alpha}
    reference |= {"B": 0.19336158730716307, "beta": 0.0016257480300470963}
    fit, best = _fit_and_bar(points, reference, "huber_log", {"alpha": alpha})
    assert fit.success and fit.params["beta"] < 0.01
    assert fit.value <= best * (1 + TOLERANCE)


def test_a_huber_crawl_of_a_term_that_trades_with_the_constant_probes_the_constants_bound():
    """Ten points on five sizes, (B, beta) held, the size term nearly flat: with alpha near 0, A / N^alpha
    is a constant plus a slope in ln N, and E and A trade along a valley curved in linear and log
    coordinates alike. The polish crawled down it for 1,000 steps (alpha 1.0 -> 0.014, E 2.6 -> 2.3) and
    reported `failed`; the valley ends where E reaches 0 (alpha 0.0015). Probing alpha's bound (0), the
    one it headed for first, does not help there; E's bound, once E heads for it, does."""
    n = (11684898.28548936, 46487118.97008042, 135594591.4263835, 833852963.4702015, 7054177322.142669)
    points = [
        (n[0], 180890398.4192942, 2.678362981532045),
        (n[0], 190939864.99814388, 2.6787559883700856),
        (n[1], 719653116.9043727, 2.553489436191821),
        (n[1], 759633845.6212822, 2.7073078968680853),
        (n[2], 2099099116.4278424, 2.568768848185758),
        (n[2], 2215715734.007167, 2.6531471112290324),
        (n[3], 12908627109.963497, 2.6362227929115347),
        (n[3], 13625773060.517025, 2.5864341548309455),
        (n[4], 109203598965.62827, 2.573889828159857),
        (n[4], 115270465574.82983, 2.6154800181836637),
    ]
    held = {"B": 19252.156082071848, "beta": 0.6868802241534547}
    reference = {"E": 2.6076720374885434, "A": 20.209482535867686, "alpha": 0.39886111427555704} | held
    fit, best = _fit_and_bar(points, reference, "huber_log", held)
    assert fit.success and fit.at_bound == ("E",)
    assert fit.value <= best * (1 + TOLERANCE)
    # the end of the valley: no lower with alpha held anywhere along it
    runs = pd.DataFrame(points, columns=["n_params", "n_tokens", "loss"])
    for alpha in (0.001, 0.0015, 0.002, 0.004, 0.0136):
        assert fit.value <= sl.fit(runs, objective="huber_log", fixed=held | {"alpha": alpha}).value


def test_a_huber_job_heading_for_a_bound_too_fast_to_crawl_probes_it():
    """Eight points on two pairs of near-equal sizes. Every job headed for alpha's bound (5), gaining
    about 1.6e-6 a step: too much to count as crawling, so no probe; after 1,000 steps alpha was at 4.4
    and the fit reported `failed` (below the 4^5 reference already, by 1.1 %). A job still running after
    100 steps now probes the bounds it has been heading for."""
    n = (13110118.230962025, 21886819.001259215, 5095083869.749201, 5190210838.949643)
    points = [
        (n[0], 110836660.58118443, 47.06941195448298),
        (n[0], 138545825.72648054, 45.370799083937214),
        (n[1], 185037379.9921387, 41.929687303350896),
        (n[1], 231296724.9901734, 40.31006658756323),
        (n[2], 43075285177.09031, 18.13165122338832),
        (n[2], 53844106471.362885, 17.316684662059274),
        (n[3], 43879515574.683945, 17.86051294693185),
        (n[3], 54849394468.35493, 17.81658565686464),
    ]
    reference = {"E": 10.000719713583814, "A": 5004350.794351891, "alpha": 0.862660713674134}
    reference |= {"B": 2980.0452955050623, "beta": 0.24233133651920777}
    fit, best = _fit_and_bar(points, reference, "huber_log")
    assert fit.success and fit.at_bound == ("alpha",)
    assert fit.value <= best * (1 + TOLERANCE)


def test_a_term_that_fits_the_first_checkpoints_is_found():
    """Twenty noisy points on five sizes, least squares. The optimum has E on its bound and a B term with
    beta = 4.5 that only the first checkpoints feel; alpha's valley there is narrower than the screening
    grid's spacing, so every grid cell near it was higher than cells with B = 0, and the fit ended with no
    B term, 3.7 % above the 4^5 reference. A job whose term is absent scans that term's exponent; the
    engine must reach at least as low an objective as the reference's solution has."""
    n = [11950274.75217095, 24678885.415708575, 49947658.76032969, 222729813.0456122, 2655022362.2552843]
    points = [
        (n[0], 117179727.89099754, 19.108986783808184),
        (n[0], 125549708.45464024, 19.33104347024273),
        (n[0], 133919689.01828292, 18.869014037507238),
        (n[0], 142289669.5819256, 19.382005398670525),
        (n[1], 241991513.80519408, 16.778799059734666),
        (n[1], 259276621.9341365, 17.51612521298073),
        (n[1], 276561730.06307894, 17.899458626430075),
        (n[1], 293846838.19202137, 17.50125384551083),
        (n[2], 489767238.30258155, 16.461311018311154),
        (n[2], 524750612.4670517, 16.952663707598482),
        (n[2], 559733986.6315218, 15.714962945738597),
        (n[2], 594717360.7959919, 16.354310179397793),
        (n[3], 2184001575.458023, 14.18187521127822),
        (n[3], 2340001687.9907393, 14.149223669369507),
        (n[3], 2496001800.523455, 14.46605001570517),
        (n[3], 2652001913.056171, 14.610167659259636),
        (n[4], 26034112554.363567, 11.071679135639831),
        (n[4], 27893692022.532394, 10.896231964595247),
        (n[4], 29753271490.70122, 10.408889630722209),
        (n[4], 31612850958.87005, 10.800991583930767),
    ]
    reference = {"E": 6.46435040456351e-36, "A": 98.51265385734484, "alpha": 0.10123523662681301}
    reference |= {"B": 7.770553722350104e35, "beta": 4.511670526880216}
    fit, best = _fit_and_bar(points, reference, "lsq")
    assert fit.success and fit.params["B"] > 0
    assert fit.value <= best * (1 + TOLERANCE)


def test_a_fit_the_normal_equations_cannot_resolve_is_finished_on_its_residuals():
    """Fourteen points on two sizes, losses near 1,000 and 640, least squares with E held: the law
    explains all but a millionth of the variance, and the profile's normal equations were 8e-9 off the
    objective, so the polish settled on the wrong one of its nearly equal points, 5.4e-9 above the 4^5
    reference. Such fits are finished on the residuals themselves."""
    n1, n2 = 28356132.453385256, 531551697.25716764
    points = [
        (n1, 3266736808.056502, 1040.027294492823),
        (n1, 3518024254.8300796, 1028.9389011196386),
        (n1, 3769311701.6036563, 1017.51652124862),
        (n1, 4020599148.3772335, 1008.569263117547),
        (n1, 4271886595.1508107, 999.026175417773),
        (n1, 4523174041.924388, 990.3436718934548),
        (n1, 4774461488.697965, 983.0065540339596),
        (n2, 61236824086.26899, 663.9890628704459),
        (n2, 65947349015.98199, 656.8930668008503),
        (n2, 70657873945.69499, 649.807942308524),
        (n2, 75368398875.40799, 643.2014993670381),
        (n2, 80078923805.12097, 637.6489381624275),
        (n2, 84789448734.83398, 632.1238534346032),
        (n2, 89499973664.54698, 627.5009796758059),
    ]
    held = {"E": 1.8019382767517609}
    reference = {"A": 21105.0337494187, "alpha": 0.44147673790830894, "B": 28335.041357692928}
    reference |= {"beta": 0.15141402990326505} | held
    fit, best = _fit_and_bar(points, reference, "lsq", held)
    assert fit.success
    assert fit.value <= best * (1 + TOLERANCE)
