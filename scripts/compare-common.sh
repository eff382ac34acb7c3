# Sourced by the compare scripts: REV checked out beside the working tree, and a clean build of each side.
# Expects `root` (the repository) and `out` (the script's folder under target/) to be set.

# Checks REV out in "$out/base-src" (removed again when the script exits).
base_worktree() {
    mkdir -p "$out"
    git worktree remove --force "$out/base-src" 2>/dev/null || true
    git worktree add --detach "$out/base-src" "$1" >/dev/null
    trap 'git worktree remove --force "$out/base-src" 2>/dev/null || true' EXIT
}

# Cleans the workspace's own crates of the tree in $1 from the shared target directory, in the profile of the
# cargo flags that follow ("--release" or none). Both trees share one target directory, and cargo names a workspace
# crate's outputs by its path relative to its workspace, so the two trees' crates share file names and the other
# tree's output could pass for fresh; the dependencies stay built.
clean_workspace_crates() {
    local tree=$1
    shift
    for pkg in twin twin-models twin-mqtt twin-modbus; do
        (cd "$tree" && cargo clean -q "$@" -p "$pkg" --target-dir "$root/target" 2>/dev/null) || true
    done
}
