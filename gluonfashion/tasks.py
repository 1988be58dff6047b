"""The attribute tables of the two task families the kit ships with.

FashionAI (Alibaba Tianchi 2018): eight independent single-label tasks, each with its
value names in label order (the order of the characters in a ``ynm`` label string).
JD Fashion-Challenge (2018): thirteen multi-label styles, in the column order of
``train.txt``.

User datasets with other task names work without touching this file: the class count
then comes from the label strings, and value names are optional (see ``value_names``).
"""

FASHIONAI_TASKS = {
    "skirt_length_labels": [
        "Invisible", "Short Length", "Knee Length", "Midi Length", "Ankle Length",
        "Floor Length"],
    "coat_length_labels": [
        "Invisible", "High Waist Length", "Regular Length", "Long Length", "Micro Length",
        "Knee Length", "Midi Length", "Ankle&Floor Length"],
    "collar_design_labels": [
        "Invisible", "Shirt Collar", "Peter Pan", "Puritan Collar", "Rib Collar"],
    "lapel_design_labels": [
        "Invisible", "Notched", "Collarless", "Shawl Collar", "Plus Size Shawl"],
    "neck_design_labels": [
        "Invisible", "Turtle Neck", "Ruffle Semi-High Collar", "Low Turtle Neck",
        "Draped Collar"],
    "neckline_design_labels": [
        "Invisible", "Strapless Neck", "Deep V Neckline", "Straight Neck", "V Neckline",
        "Square Neckline", "Off Shoulder", "Round Neckline", "Sweat Heart Neck",
        "One Shoulder Neckline"],
    "pant_length_labels": [
        "Invisible", "Short Pant", "Mid Length", "3/4 Length", "Cropped Pant",
        "Full Length"],
    "sleeve_length_labels": [
        "Invisible", "Sleeveless", "Cup Sleeves", "Short Sleeves", "Elbow Sleeves",
        "3/4 Sleeves", "Wrist Length", "Long Sleeves", "Extra Long Sleeves"],
}

# Column order of the 13 labels in JD train.txt / submission rows.
JD_STYLES = [
    "sports", "casual", "OL/commuting", "Japanese", "Korean", "Western", "British",
    "girlish", "lady/elegant", "simple", "natural", "street/punk", "national/ethnic",
]


def value_names(task, n_values=None):
    """Value names of ``task``; generic names ``value_0..`` for tasks the kit does not know.

    ``n_values`` (from the label strings) is checked against the known table so a
    dataset whose labels do not match the task it claims is caught early.
    """
    known = FASHIONAI_TASKS.get(task)
    if known is None:
        if n_values is None:
            raise KeyError(f"unknown task {task!r} and no value count given")
        return [f"value_{i}" for i in range(n_values)]
    if n_values is not None and n_values != len(known):
        raise ValueError(
            f"task {task!r} has {len(known)} values but its labels have {n_values}")
    return list(known)
