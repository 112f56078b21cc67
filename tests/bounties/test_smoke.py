def test_fund_page_renders(client, fund):
    response = client.get(fund.url)
    assert response.status_code == 200
    assert b"Audit TrueCrypt" in response.content
