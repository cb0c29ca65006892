def test_the_api_docs_page_loads_its_scripts_from_our_own_static_files(client):
    page = client.get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui" in page
    assert "cdn." not in page
