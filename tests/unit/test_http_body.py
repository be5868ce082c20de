def test_deeply_nested_body_is_a_400_not_a_500(server):
    r = server.post("/v1/notifications", '{"a": ' * 5000 + "1" + "}" * 5000)
    assert r.status_code == 400 and r.data["error"] == "invalid_json"
