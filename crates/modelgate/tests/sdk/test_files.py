"""/v1/files through the official SDK: upload, list, retrieve, content, delete; files
belong to one account; an uploaded file can be an image reference."""

import io

import openai
import pytest

from helpers import assert_error

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5f6e5cd0000000049454e44ae426082"
)


def test_file_lifecycle(client):
    created = client.files.create(file=("cat.png", io.BytesIO(PNG), "image/png"), purpose="vision")
    assert created.id.startswith("file-")
    assert (created.filename, created.purpose, created.bytes) == ("cat.png", "vision", len(PNG))
    assert created.id in [f.id for f in client.files.list().data]
    assert client.files.retrieve(created.id).bytes == len(PNG)
    assert client.files.content(created.id).read() == PNG
    r = client.images.generate(model="demo/image", prompt="like this", extra_body={"file_ids": [created.id]})
    assert len(r.data) == 1
    assert client.files.delete(created.id).deleted is True
    with pytest.raises(openai.NotFoundError) as info:
        client.files.retrieve(created.id)
    assert_error(info.value, 404, "not_found")


def test_files_of_another_account_are_not_found(client, admin, make_client):
    created = client.files.create(file=("a.txt", io.BytesIO(b"hello"), "text/plain"), purpose="user_data")
    other = make_client(api_key=admin.new_key()["key"])
    for call in (lambda: other.files.retrieve(created.id), lambda: other.files.content(created.id), lambda: other.files.delete(created.id)):
        with pytest.raises(openai.NotFoundError) as info:
            call()
        assert_error(info.value, 404, "not_found")
    assert created.id not in [f.id for f in other.files.list().data]
    with pytest.raises(openai.NotFoundError):
        other.images.generate(model="demo/image", prompt="x", extra_body={"file_ids": [created.id]})


def test_bad_purpose_is_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("a.txt", io.BytesIO(b"x"), "text/plain"), purpose="fine-tune")
    err = assert_error(info.value, 400, "invalid_request_error")
    assert err["details"]["param"] == "purpose"
