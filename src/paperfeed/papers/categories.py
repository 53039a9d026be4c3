"""The arXiv category taxonomy, in one place: codes, names, archives and groups, the names
OAI-PMH oai_dc uses for them, and arXiv's OAI set specs."""

from __future__ import annotations

import re

_GROUPS: dict[str, tuple[str, dict[str, str]]] = {
    "cs": (
        "Computer Science",
        {
            "AI": "Artificial Intelligence",
            "AR": "Hardware Architecture",
            "CC": "Computational Complexity",
            "CE": "Computational Engineering, Finance, and Science",
            "CG": "Computational Geometry",
            "CL": "Computation and Language",
            "CR": "Cryptography and Security",
            "CV": "Computer Vision and Pattern Recognition",
            "CY": "Computers and Society",
            "DB": "Databases",
            "DC": "Distributed, Parallel, and Cluster Computing",
            "DL": "Digital Libraries",
            "DM": "Discrete Mathematics",
            "DS": "Data Structures and Algorithms",
            "ET": "Emerging Technologies",
            "FL": "Formal Languages and Automata Theory",
            "GL": "General Literature",
            "GR": "Graphics",
            "GT": "Computer Science and Game Theory",
            "HC": "Human-Computer Interaction",
            "IR": "Information Retrieval",
            "IT": "Information Theory",
            "LG": "Machine Learning",
            "LO": "Logic in Computer Science",
            "MA": "Multiagent Systems",
            "MM": "Multimedia",
            "MS": "Mathematical Software",
            "NA": "Numerical Analysis",
            "NE": "Neural and Evolutionary Computing",
            "NI": "Networking and Internet Architecture",
            "OH": "Other Computer Science",
            "OS": "Operating Systems",
            "PF": "Performance",
            "PL": "Programming Languages",
            "RO": "Robotics",
            "SC": "Symbolic Computation",
            "SD": "Sound",
            "SE": "Software Engineering",
            "SI": "Social and Information Networks",
            "SY": "Systems and Control",
        },
    ),
    "econ": (
        "Economics",
        {
            "EM": "Econometrics",
            "GN": "General Economics",
            "TH": "Theoretical Economics",
        },
    ),
    "eess": (
        "Electrical Engineering and Systems Science",
        {
            "AS": "Audio and Speech Processing",
            "IV": "Image and Video Processing",
            "SP": "Signal Processing",
            "SY": "Systems and Control",
        },
    ),
    "math": (
        "Mathematics",
        {
            "AC": "Commutative Algebra",
            "AG": "Algebraic Geometry",
            "AP": "Analysis of PDEs",
            "AT": "Algebraic Topology",
            "CA": "Classical Analysis and ODEs",
            "CO": "Combinatorics",
            "CT": "Category Theory",
            "CV": "Complex Variables",
            "DG": "Differential Geometry",
            "DS": "Dynamical Systems",
            "FA": "Functional Analysis",
            "GM": "General Mathematics",
            "GN": "General Topology",
            "GR": "Group Theory",
            "GT": "Geometric Topology",
            "HO": "History and Overview",
            "IT": "Information Theory",
            "KT": "K-Theory and Homology",
            "LO": "Logic",
            "MG": "Metric Geometry",
            "MP": "Mathematical Physics",
            "NA": "Numerical Analysis",
            "NT": "Number Theory",
            "OA": "Operator Algebras",
            "OC": "Optimization and Control",
            "PR": "Probability",
            "QA": "Quantum Algebra",
            "RA": "Rings and Algebras",
            "RT": "Representation Theory",
            "SG": "Symplectic Geometry",
            "SP": "Spectral Theory",
            "ST": "Statistics Theory",
        },
    ),
    "astro-ph": (
        "Astrophysics",
        {
            "CO": "Cosmology and Nongalactic Astrophysics",
            "EP": "Earth and Planetary Astrophysics",
            "GA": "Astrophysics of Galaxies",
            "HE": "High Energy Astrophysical Phenomena",
            "IM": "Instrumentation and Methods for Astrophysics",
            "SR": "Solar and Stellar Astrophysics",
        },
    ),
    "cond-mat": (
        "Condensed Matter",
        {
            "dis-nn": "Disordered Systems and Neural Networks",
            "mes-hall": "Mesoscale and Nanoscale Physics",
            "mtrl-sci": "Materials Science",
            "other": "Other Condensed Matter",
            "quant-gas": "Quantum Gases",
            "soft": "Soft Condensed Matter",
            "stat-mech": "Statistical Mechanics",
            "str-el": "Strongly Correlated Electrons",
            "supr-con": "Superconductivity",
        },
    ),
    "nlin": (
        "Nonlinear Sciences",
        {
            "AO": "Adaptation and Self-Organizing Systems",
            "CD": "Cellular Automata and Lattice Gases",
            "CG": "Chaotic Dynamics",
            "PS": "Pattern Formation and Solitons",
            "SI": "Exactly Solvable and Integrable Systems",
        },
    ),
    "physics": (
        "Physics",
        {
            "acc-ph": "Accelerator Physics",
            "ao-ph": "Atmospheric and Oceanic Physics",
            "app-ph": "Applied Physics",
            "atm-clus": "Atomic and Molecular Clusters",
            "atom-ph": "Atomic Physics",
            "bio-ph": "Biological Physics",
            "chem-ph": "Chemical Physics",
            "class-ph": "Classical Physics",
            "comp-ph": "Computational Physics",
            "data-an": "Data Analysis, Statistics and Probability",
            "ed-ph": "Physics Education",
            "flu-dyn": "Fluid Dynamics",
            "gen-ph": "General Physics",
            "geo-ph": "Geophysics",
            "hist-ph": "History and Philosophy of Physics",
            "ins-det": "Instrumentation and Detectors",
            "med-ph": "Medical Physics",
            "optics": "Optics",
            "plasm-ph": "Plasma Physics",
            "pop-ph": "Popular Physics",
            "soc-ph": "Physics and Society",
            "space-ph": "Space Physics",
        },
    ),
    "q-bio": (
        "Quantitative Biology",
        {
            "BM": "Biomolecules",
            "CB": "Cell Behavior",
            "GN": "Genomics",
            "MN": "Molecular Networks",
            "NC": "Neurons and Cognition",
            "OT": "Other Quantitative Biology",
            "PE": "Populations and Evolution",
            "QM": "Quantitative Methods",
            "SC": "Subcellular Processes",
            "TO": "Tissues and Organs",
        },
    ),
    "q-fin": (
        "Quantitative Finance",
        {
            "CP": "Computational Finance",
            "EC": "Economics",
            "GN": "General Finance",
            "MF": "Mathematical Finance",
            "PM": "Portfolio Management",
            "PR": "Pricing of Securities",
            "RM": "Risk Management",
            "ST": "Statistical Finance",
            "TR": "Trading and Market Microstructure",
        },
    ),
    "stat": (
        "Statistics",
        {
            "AP": "Applications",
            "CO": "Computation",
            "ME": "Methodology",
            "ML": "Machine Learning",
            "OT": "Other Statistics",
            "TH": "Statistics Theory",
        },
    ),
}
# Archives without subject classes, and whole archives as old records name them.
_STANDALONE = {
    "gr-qc": "General Relativity and Quantum Cosmology",
    "hep-ex": "High Energy Physics - Experiment",
    "hep-lat": "High Energy Physics - Lattice",
    "hep-ph": "High Energy Physics - Phenomenology",
    "hep-th": "High Energy Physics - Theory",
    "math-ph": "Mathematical Physics",
    "nucl-ex": "Nuclear Experiment",
    "nucl-th": "Nuclear Theory",
    "quant-ph": "Quantum Physics",
    "astro-ph": "Astrophysics",
    "cond-mat": "Condensed Matter",
    "q-bio": "Quantitative Biology",
    "nlin": "Nonlinear Sciences",
    "physics": "Physics",
}
# Names arXiv used before renaming a category; oai_dc still carries them for older records.
_FORMER_NAMES = {
    "Computer Science - Learning": "cs.LG",
    "Mathematics - Mathematical Physics": "math.MP",
}

CATEGORY_NAMES: dict[str, str] = dict(_STANDALONE)
for _group, (_group_name, _members) in _GROUPS.items():
    for _sub, _name in _members.items():
        CATEGORY_NAMES[f"{_group}.{_sub}"] = f"{_group_name} - {_name}"

_BY_NAME = {name.casefold(): code for code, name in CATEGORY_NAMES.items()}
_BY_NAME.update({name.casefold(): code for name, code in _FORMER_NAMES.items()})
_BY_CODE = {code.casefold(): code for code in CATEGORY_NAMES}
# Old subject-class archives (alg-geom, funct-an, cmp-lg, ...) are valid codes in old records.
_CODE_SHAPE = re.compile(r"^[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]+(?:-[a-z]+)?)?$")


# Archives of the physics group: arXiv's OAI sets are group:archive:CLASS, and the physics
# group's archives are not named after it (hep-th is physics:hep-th).
_PHYSICS_GROUP = frozenset(
    {
        "astro-ph",
        "cond-mat",
        "gr-qc",
        "hep-ex",
        "hep-lat",
        "hep-ph",
        "hep-th",
        "math-ph",
        "nlin",
        "nucl-ex",
        "nucl-th",
        "physics",
        "quant-ph",
    }
)
# Archives whose papers carry the archive itself as their category (hep-th, quant-ph).
ARCHIVES_WITHOUT_SUBJECTS = frozenset(code for code in _STANDALONE if code not in _GROUPS)


def code_for_name(name: str) -> str | None:
    """Map an oai_dc subject ("Computer Science - Learning") or a code ("math.lo") to a code;
    None for subjects that are not arXiv categories (MSC/ACM classes, keywords)."""
    key = " ".join(name.split()).casefold()
    return _BY_NAME.get(key) or _BY_CODE.get(key)


def is_category_code(code: str) -> bool:
    return code in CATEGORY_NAMES or bool(_CODE_SHAPE.match(code))


def is_known_category(code: str) -> bool:
    """A category or archive of today's taxonomy (cs.LG, hep-th, cs, physics)."""
    return code in CATEGORY_NAMES or code in _GROUPS


def known_categories() -> list[str]:
    """Every code `is_known_category` accepts, sorted."""
    return sorted(set(CATEGORY_NAMES) | set(_GROUPS))


def lists_subject_classes(code: str) -> bool:
    """Whether `code` stands for an archive's subject classes rather than one category: "cs"
    (papers are in cs.LG, cs.CL, ...) but not "cs.LG" or "hep-th" (an archive without
    subject classes, whose papers carry "hep-th" itself)."""
    return "." not in code and code not in ARCHIVES_WITHOUT_SUBJECTS


def category_set_spec(category: str) -> str:
    """arXiv's OAI set for a category: cs.LG -> cs:cs:LG, hep-th -> physics:hep-th."""
    if not is_known_category(category):
        raise ValueError(f"not an arXiv category: {category!r} (e.g. cs.LG, hep-th, math)")
    archive, _, subject = category.partition(".")
    group = "physics" if archive in _PHYSICS_GROUP else archive
    if subject:
        return f"{group}:{archive}:{subject}"
    return f"{group}:{archive}" if group == "physics" else archive


def category_for_set_spec(set_spec: str) -> str:
    """The category an OAI set stands for: physics:hep-th -> hep-th, cs:cs:LG -> cs.LG."""
    parts = set_spec.split(":")
    if len(parts) >= 3:
        return f"{parts[1]}.{parts[2]}"
    return parts[-1]
