"""Interop check: the OASIS TAXII 2.1 client (taxii2-client) and stix2's
TAXIICollectionSource/Sink against a running tearline.

Usage: taxii_interop.py URL USER PASSWORD BUNDLE [BUNDLE...]
URL is the discovery URL (http://host:port/taxii2/). The account must be able
to read and write exactly one collection, which must start empty.
Exits non-zero (with a message) on the first mismatch.
"""

import json
import sys

import stix2
from taxii2client.v21 import Server, as_pages


def check(condition, message):
    if not condition:
        raise SystemExit(f"interop FAILED: {message}")


def main():
    url, user, password, *bundles = sys.argv[1:]
    objects = []
    for path in bundles:
        with open(path, encoding="utf-8") as handle:
            objects.extend(json.load(handle)["objects"])
    check(objects, "no objects in the given bundles")

    server = Server(url, user=user, password=password)
    check(server.title, "discovery has a title")
    check(len(server.api_roots) >= 1, "discovery lists an API root")
    api_root = server.default or server.api_roots[0]
    check("application/taxii+json;version=2.1" in api_root.versions, "API root versions")
    check(api_root.max_content_length > 0, "max_content_length advertised")
    collections = api_root.collections
    check(len(collections) == 1, f"exactly one visible collection, got {len(collections)}")
    collection = collections[0]
    check(collection.can_read and collection.can_write, "read and write granted")

    # Add in envelopes of 50, waiting for each status (polls status/<id>).
    # Objects tearline's validator rejects come back as status failures,
    # each with a message, and are not stored.
    rejected = set()
    for start in range(0, len(objects), 50):
        chunk = objects[start:start + 50]
        status = collection.add_objects({"objects": chunk}, wait_for_completion=True, poll_interval=1, timeout=30)
        check(status.status == "complete", f"status complete, got {status.status}")
        check(status.total_count == len(chunk), "total_count")
        check(status.success_count + status.failure_count == len(chunk), "counts add up")
        for failure in status.failures or []:
            check(failure.get("message"), f"failure without a message: {failure}")
            rejected.add(failure["id"])
        status.refresh()
        check(status.status == "complete", "status endpoint answers")
    check(len(rejected) <= len(objects) // 20, f"too many objects rejected: {sorted(rejected)}")
    ids = {obj["id"] for obj in objects} - rejected

    # Every object comes back through as_pages, without repeats.
    seen = []
    for envelope in as_pages(collection.get_objects, per_request=7):
        seen.extend(obj["id"] for obj in envelope.get("objects", []))
    check(len(seen) == len(set(seen)), "paging repeats an object")
    check(set(seen) == ids, f"paging returned {len(set(seen))} of {len(ids)} objects")

    # Filters.
    kind = objects[0]["type"]
    typed = collection.get_objects(type=kind)
    check(all(obj["type"] == kind for obj in typed["objects"]), "match[type]")
    check(len(typed["objects"]) == len({o["id"] for o in objects if o["type"] == kind}), "match[type] count")
    first = objects[0]["id"]
    by_id = collection.get_objects(id=first)
    check([obj["id"] for obj in by_id["objects"]] == [first], "match[id]")
    page = collection.get_objects(limit=5)
    check(len(page["objects"]) == 5 and page.get("more") is True and page.get("next"), "limit/more/next")
    manifest = collection.get_manifest(limit=3)
    check(len(manifest["objects"]) == 3, "manifest limit")
    check(all("date_added" in rec and "version" in rec for rec in manifest["objects"]), "manifest records")
    later = collection.get_objects(added_after=manifest["objects"][-1]["date_added"])
    check(len(later["objects"]) == len(ids) - 3, "added_after is strict")

    # One object and its versions.
    one = collection.get_object(first)
    check(one["objects"][0]["id"] == first, "get_object")
    versions = collection.object_versions(first)
    check(len(versions["versions"]) >= 1, "object_versions")

    # A new version through stix2's sink, read back through the source.
    source = stix2.TAXIICollectionSource(collection)
    sink = stix2.TAXIICollectionSink(collection)
    identity = stix2.Identity(name="interop", identity_class="organization")
    sink.add(identity)
    fetched = source.get(identity.id)
    check(fetched is not None and fetched.name == "interop", "TAXIICollectionSink then Source.get")
    newer = identity.new_version(name="interop v2")
    sink.add(newer)
    check(source.get(identity.id).name == "interop v2", "Source.get returns the newest version")
    check(len(source.all_versions(identity.id)) == 2, "Source.all_versions")
    found = source.query([stix2.Filter("type", "=", "identity")])
    check(any(obj.id == identity.id for obj in found), "Source.query with a filter")
    check(len(collection.object_versions(identity.id)["versions"]) == 2, "two versions listed")

    print(f"interop ok: {len(ids)} corpus objects, paging, filters, manifest, versions, stix2 source/sink")


if __name__ == "__main__":
    main()
