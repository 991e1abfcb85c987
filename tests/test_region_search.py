"""Region search: exact, prefix, typo, accents and codes; full paths in the results."""
import pytest

from kim_platform.regions.queries import search_regions


def codes(q):
    return [region.code for region in search_regions(q)]


def test_exact_name_finds_the_kabupaten_first():
    found = codes("Mamuju")
    assert found[0] == "76.02"  # Kabupaten Mamuju before kecamatan Mamuju and Mamuju Tengah
    assert "76.02.01" in found and "76.06" in found


def test_prefix_finds_regions_starting_with_the_term():
    found = codes("Mamu")
    assert {"76.02", "76.06"} <= set(found)


@pytest.mark.parametrize("query", ["Mamju", "mamuuju", "MAMUJU", "Mámúju", "  mamuju  "])
def test_typos_case_and_accents_are_tolerated(query):
    assert "76.02" in codes(query)


def test_code_finds_the_region_and_what_is_below_it():
    found = codes("76.02")
    assert found[0] == "76.02" and all(code.startswith("76.02") for code in found)


def test_nonsense_and_empty_queries_find_nothing():
    assert codes("zzqqxx") == []
    assert codes("") == []
    assert codes("%_") == []


def test_at_most_twenty_results():
    assert len(codes("a")) <= 20


def test_search_page_shows_full_paths(client):
    html = client.get("/wilayah/cari?q=Mamju").get_data(as_text=True)
    assert "Kab. Mamuju, Prov. Sulawesi Barat" in html
    assert "Kec. Mamuju, Kab. Mamuju, Prov. Sulawesi Barat" in html
    first_result = html.index("Kab. Mamuju, Prov. Sulawesi Barat")
    assert first_result < html.index("Kec. Mamuju, Kab. Mamuju")


def test_search_page_for_a_desa_gives_the_whole_hierarchy(client):
    html = client.get("/wilayah/cari", query_string={"q": "Binanga"}).get_data(as_text=True)
    assert "Desa Binanga" in html or "Kel. Binanga" in html
    assert ", Kec. Mamuju, Kab. Mamuju, Prov. Sulawesi Barat" in html


def test_search_page_says_when_nothing_matches(client):
    html = client.get("/wilayah/cari?q=zzqqxx").get_data(as_text=True)
    assert "zzqqxx" in html and "/wilayah/76" not in html.split("<main", 1)[1]


def test_a_typo_ranks_the_closest_whole_names_first():
    # Kab. Mamuju, then kecamatan Mamuju, then Kab. Mamuju Tengah; Mamasa and Mamberamo after.
    assert codes("Mamju")[:3] == ["76.02", "76.02.01", "76.06"]
